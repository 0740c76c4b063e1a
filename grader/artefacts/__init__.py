"""What a kernel left for grading, read back in the judge process: nothing trusted as it comes."""
