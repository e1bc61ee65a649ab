"""Prompt, sentence, report and web templates and the glossary: data, read with importlib.resources."""
