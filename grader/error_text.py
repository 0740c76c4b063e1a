"""An error's own sentence out of the text Keras wraps around it: for what stopped a notebook
(:mod:`grader.execute.outcomes`) and why a saved model cannot be rebuilt
(:mod:`grader.artefacts.unbuilt`)."""

from __future__ import annotations


def error_summary(value: str) -> str:
    """An error's own sentence, without the lines Keras wraps around it ("Exception
    encountered when calling ...", "Arguments received by ...") and the arguments it lists."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    wrapped = ("Exception encountered", "Arguments received", "•")
    core = [line for line in lines if not line.startswith(wrapped)]
    return (core or lines or [""])[0]
