"""Code that runs inside the student's kernel: the injected cells and the library they import."""
