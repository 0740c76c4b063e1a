"""Look-alike submissions: which notebooks of a class share more code or text than chance.

- :mod:`grader.lookalikes.fingerprints`: cells tokenised, normalised and winnowed.
- :mod:`grader.lookalikes.finder`: pairs above a threshold, through an inverted index.

A pair is a flag for a person (the class report, the review desk); it never changes a score.
"""
