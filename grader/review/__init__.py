"""The instructor's review desk: written answers graded by a person, score overrides, look-alikes.

- :mod:`grader.review.rubric`: ``[[manual]]`` items of ``assignment.toml``.
- :mod:`grader.review.answers`: finds each item's answer in a notebook while it is graded.
- :mod:`grader.review.merge`: decisions (overrides, manual points) written into a result.
- :mod:`grader.review.db`: every decision, in ``OUT/review.sqlite``.
- :mod:`grader.review.export`: decisions into ``result.json``, reports and the gradebooks.
- :mod:`grader.review.app`: ``grader review OUT``, the local web app.

Look-alike pairs it shows are found by :mod:`grader.lookalikes`.
"""
