"""Syntax layer: text -> lark tree -> AST with spans; and AST -> canonical text."""
