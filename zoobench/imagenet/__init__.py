"""ImageNet data: preparing the official ILSVRC2012 archives, devkit labels, transforms and evaluation."""
