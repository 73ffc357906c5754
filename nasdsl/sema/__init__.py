"""Semantic analysis: AST -> resolved, shaped, checked IR."""
