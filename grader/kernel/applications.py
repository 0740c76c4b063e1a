"""The ``keras.applications`` bases the grader can serve ImageNet weights for, offline.

Read by the kernel's runtime (which wraps each builder) and by the grader (which finds the
weights files and copies them into the kernel's sandbox). Only builders whose no-top weights
are one file, whatever their arguments, are listed: MobileNet's and EfficientNet's files
depend on the width and size asked for.
"""

from __future__ import annotations

APPLICATIONS: dict[str, tuple[str, str, str]] = {
    "vgg16": ("VGG16", "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "vgg19": ("VGG19", "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "resnet50": ("ResNet50", "resnet", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "inception_v3": (
        "InceptionV3",
        "inception_v3",
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    "xception": ("Xception", "xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "densenet121": (
        "DenseNet121",
        "densenet",
        "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}
"""Application (as a rubric's ``pretrained`` names it) -> (builder, its module under
``keras.src.applications``, the no-top weights file Keras would download)."""

PUBLIC_MODULES = ("vgg16", "vgg19", "resnet", "resnet50", "inception_v3", "xception", "densenet")
"""The submodules of ``keras.applications`` students import the builders from."""
