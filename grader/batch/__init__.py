"""A whole class: find the submissions, grade them anywhere, resume, cache."""
