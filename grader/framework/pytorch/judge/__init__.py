"""What the judge reads of a PyTorch kernel: its records checked field by field
(:mod:`~grader.framework.pytorch.judge.records`), its models as ONNX graphs through an
operator allow-list (:mod:`~grader.framework.pytorch.judge.models`), both gathered as
:class:`~grader.framework.pytorch.judge.artefacts.TorchArtefacts` (runs in the judge)."""
