"""The data a notebook receives and the part it never sees: data sets, pretrained weights,
the grader's secret and its cache folder."""
