"""CelebA's held-out split matches StarGAN's ``data_loader.CelebA.preprocess`` exactly."""

from __future__ import annotations

import random

from i2i.data.attributes import split_rows


def reference_split(lines):
    """yunjey/stargan ``CelebA.preprocess``, its loop verbatim (labels aside)."""
    random.seed(1234)
    random.shuffle(lines)
    train, test = [], []
    for i, line in enumerate(lines):
        if (i + 1) < 2000:
            test.append(line)
        else:
            train.append(line)
    return train, test


def test_celeba_split_holds_out_1999_images_as_the_reference():
    rows = [(f"{i:06d}.jpg", [i % 2]) for i in range(1, 25001)]
    ref_train, ref_test = reference_split(list(rows))
    assert len(ref_test) == 1999
    assert split_rows(rows, "test") == ref_test
    assert split_rows(rows, "train") == ref_train


def test_small_attribute_lists_hold_out_a_tenth():
    rows = [(f"{i}.jpg", [0]) for i in range(50)]
    test, train = split_rows(rows, "test"), split_rows(rows, "train")
    assert len(test) == 5 and len(train) == 45 and not {n for n, _ in test} & {n for n, _ in train}
