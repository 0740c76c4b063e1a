"""Running a notebook with nbclient in its sandbox, and naming what stopped it."""
