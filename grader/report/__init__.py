"""Feedback a student can act on: facts from a result, rendered as HTML, Markdown and text."""
