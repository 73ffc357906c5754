"""Backends: lower the checked IR to torch modules, Python source and ONNX."""
