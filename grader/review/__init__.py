"""The instructor's review desk: written answers graded by a person, score overrides, look-alikes.

- :mod:`grader.review.merge`: decisions (overrides, manual points) written into a result.
- :mod:`grader.review.db`: every decision, in ``OUT/review.sqlite``.
- :mod:`grader.review.export`: decisions into ``result.json``, reports and the gradebooks.
- :mod:`grader.review.app`: ``grader review OUT``, the local web app.

The items it grades are ``[[manual]]`` tables (:mod:`grader.rubric.manual`), their answers
found while a notebook is graded (:mod:`grader.answers`); the look-alike pairs it shows are
found by :mod:`grader.lookalikes`; the score is the rule of :mod:`grader.score`.
"""
