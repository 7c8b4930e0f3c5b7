"""Presentation: writers (formats), column and footnote specs (views), safe files (files), progress (progress)."""
