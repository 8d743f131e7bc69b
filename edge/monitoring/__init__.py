"""On-device monitoring: input quality, prediction drift against the training reference, deployment health."""
