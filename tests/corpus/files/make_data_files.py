#!/usr/bin/env python3
"""Writes the broken data files the `data_*` corpus cases read (CSV files and
MNIST-format folders of a few hundred bytes). Deterministic: rerunning gives the
same bytes. Run from this folder: python3 make_data_files.py"""

import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if mode == "wb" else {"newline": ""})) as f:
        f.write(data)


def idx(dims, values, kind=0x08):
    return bytes([0, 0, kind, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)


def gz(data):
    # mtime=0 keeps the bytes the same on every run.
    return gzip.compress(data, mtime=0)


def pixels(count, h, w):
    return [(i * 37 + 11) % 256 for i in range(count * h * w)]


def mnist(folder, train=4, test=2, h=8, w=8, train_labels=None, test_labels=None, skip=(), replace=None):
    """A folder in the MNIST layout; `replace` maps a file name to other bytes."""
    replace = replace or {}
    files = {
        "train-images-idx3-ubyte": idx([train, h, w], pixels(train, h, w)),
        "train-labels-idx1-ubyte": idx([train], train_labels or [i % 10 for i in range(train)]),
        "t10k-images-idx3-ubyte": idx([test, h, w], pixels(test, h, w)),
        "t10k-labels-idx1-ubyte": idx([test], test_labels or [i % 10 for i in range(test)]),
    }
    files.update(replace)
    for name, data in files.items():
        if name not in skip:
            write(os.path.join(folder, name), data)


# CSV files.
write("data_empty.csv", "")
write("data_header_only.csv", "a,b,y\n")
write("data_good.csv", "a,b,y\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n")
write("data_duplicate.csv", "a,b,a,y\n0,1,2,0\n1,0,3,1\n")
write("data_nan.csv", "a,b,y\n0,1,0\n1,NaN,1\n1,1,0\n")
write("data_inf.csv", "a,b,y\n0,1,0\n1,0,1\n1,-inf,0\n")
write("data_text.csv", "a,b,y\n0,1,0\n1,zero,1\n")
write("data_empty_cell.csv", "a,b,y\n0,1,0\n1,,1\n")
write("data_ragged.csv", "a,b,y\n0,1,0\n1,0\n")
write("data_label_range.csv", "a,b,y\n" + "".join(f"{i % 2},{i % 3},{i % 3}\n" for i in range(19)) + "1,1,7\n")
# A BOM, CRLF line endings, quoted fields and no final newline: all accepted; the
# error is the NaN on line 4.
write("data_bom_crlf.csv", "\ufeffa,b,y\r\n\"0\",\" 1 \",0\r\n1,0,1\r\n1,nan,0\r\n0,0,1")
write("data_binary.csv", b"a,b,y\n0,1,0\n\xff\xfe,1,1\n")
write("data_quoted_newline.csv", 'a,b,y\n0,1,0\n"1\n2",0,1\n')

# MNIST-format folders.
mnist("data_idx_ok")
mnist("data_idx_missing_labels", skip=("train-labels-idx1-ubyte",))
mnist("data_idx_truncated", replace={"train-images-idx3-ubyte": idx([10000, 28, 28], pixels(1, 8, 8))})
full = idx([4, 8, 8], pixels(4, 8, 8))
mnist("data_idx_truncated_gz", replace={"train-images-idx3-ubyte.gz": gz(full)[:60]}, skip=("train-images-idx3-ubyte",))
mnist("data_idx_corrupt_gz", skip=("t10k-images-idx3-ubyte",),
      replace={"t10k-images-idx3-ubyte.gz": b"\x1f\x8b\x08\x00" + bytes(range(40))})
mnist("data_idx_bad_magic", replace={"train-images-idx3-ubyte": b"\x89PNG\r\n\x1a\n" + bytes(64)})
# The classic abort: a short header claiming (2^32-1)^3 values.
mnist("data_idx_huge_claim", replace={"train-images-idx3-ubyte": bytes([0, 0, 8, 3]) + b"\xff" * 12})
# A plausible claim (60000 × 28 × 28) with only the header's bytes behind it.
mnist("data_idx_big_claim", replace={"train-images-idx3-ubyte": idx([60000, 28, 28], [])})
mnist("data_idx_count_mismatch", replace={"train-labels-idx1-ubyte": idx([3], [0, 1, 2])})
mnist("data_idx_test_label", test_labels=[3, 12])
mnist("data_idx_train_label", train_labels=[0, 1, 255, 3])
mnist("data_idx_labels_3d", replace={"train-labels-idx1-ubyte": idx([4, 1, 1], [0, 1, 2, 3])})
mnist("data_idx_images_1d", replace={"train-images-idx3-ubyte": idx([4], [0, 1, 2, 3])})
mnist("data_idx_zero_size", replace={"t10k-images-idx3-ubyte": idx([2, 0, 8], [])})
mnist("data_idx_shape_mismatch", replace={"t10k-images-idx3-ubyte": idx([2, 7, 7], pixels(2, 7, 7))})
mnist("data_idx_float_type", replace={"train-images-idx3-ubyte": idx([4, 8, 8], pixels(4, 8, 8), kind=0x0D)})
mnist("data_idx_extra_bytes", replace={"train-labels-idx1-ubyte": idx([4], [0, 1, 2, 3, 4, 5])})
mnist("data_idx_empty_file", replace={"t10k-labels-idx1-ubyte": b""})
mnist("data_idx_gz_labels_bad", skip=("train-labels-idx1-ubyte",),
      replace={"train-labels-idx1-ubyte.gz": gz(idx([4], [0, 1, 2, 10]))})
mnist("data_idx_five_dims", replace={"train-images-idx3-ubyte": bytes([0, 0, 8, 9]) + bytes(40)})
# Images too small or too large for a probe's defaults.
mnist("data_idx_1px", h=1, w=1)
big = {"train-images-idx3-ubyte.gz": gz(idx([4, 80, 80], pixels(4, 80, 80))),
       "t10k-images-idx3-ubyte.gz": gz(idx([2, 80, 80], pixels(2, 80, 80)))}
mnist("data_idx_80px", h=80, w=80, replace=big, skip=("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"))
# Four dimensions where images have three (the last one 0): refused at the header,
# not reported as a length that disagrees with a 0-byte claim.
mnist("data_idx_images_4d", replace={"train-images-idx3-ubyte": idx([4, 8, 8, 0], pixels(4, 8, 8))})
# A folder where the images file belongs.
mnist("data_idx_folder", skip=("train-images-idx3-ubyte",),
      replace={"train-images-idx3-ubyte/README": b"A folder where the IDX file belongs: the error must say so.\n"})
