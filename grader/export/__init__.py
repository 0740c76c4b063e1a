"""What a batch hands to people and to LMSs: gradebooks, Gradescope, the class report."""
