"""Data files shipped inside dl-lab, so they work right after ``pip install`` with no network.

``digits.csv.gz``: the test set of the UCI "Optical Recognition of Handwritten Digits" data
(E. Alpaydin, C. Kaynak, 1998; https://archive.ics.uci.edu/dataset/80), 1,797 8x8 images with
pixel counts 0..16, one image a row (64 values, then the digit). The file is the copy distributed with
scikit-learn (``sklearn/datasets/data/digits.csv.gz``, BSD-3-Clause packaging; UCI offers the data
under CC BY 4.0), unchanged:
sha256 09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22.
"""
