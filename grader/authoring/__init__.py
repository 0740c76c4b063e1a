"""Tools for instructors writing assignments: release, locked cells, validate."""
