"""Judging a student's artefacts: taken out of the kernel's reach by the grader, read and
measured by the judge, a confined process of its own, and validated again by the grader."""
