"""Inference: sliding window / one-shot, TTA, ONNX Runtime, export with its sidecar."""
