"""The inference pipeline: model adapters, the runner and post-processing."""
