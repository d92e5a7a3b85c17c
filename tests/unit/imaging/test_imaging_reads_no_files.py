"""``medtwin.imaging`` is image mathematics (arrays in, arrays out); files are read and written
at the edge, ``medtwin.data`` (issue 15). The import-linter contract in pyproject.toml forbids
the file-format modules; this test also catches file I/O that needs no import (``open``,
``np.load``, ``Path.write_text``) and checks that the readers have their public home."""

import ast
from pathlib import Path

import medtwin.data
import medtwin.imaging

IO_MODULES = {"nibabel", "csv", "json", "pathlib", "io", "gzip", "pickle", "shutil", "h5py"}
IO_CALLS = {"open", "load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savetxt",
            "tofile", "read_text", "write_text", "read_bytes", "write_bytes", "mkdir"}  # fmt: skip
READERS = ("read_nifti", "write_nifti", "read_scans", "read_radii_csv", "write_radii_csv")


def file_io(source: str) -> list[str]:
    """What in ``source`` imports a file-format module or calls a file-I/O function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in IO_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [node.module] if node.module.split(".")[0] in IO_MODULES else []
        elif isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            found += [f"{name}()"] if name in IO_CALLS else []
    return found


def test_the_scanner_sees_file_io():
    src = "import nibabel\nfrom pathlib import Path\ndef f(p):\n    np.load(p)\n    open(p)\n"
    assert sorted(file_io(src)) == ["load()", "nibabel", "open()", "pathlib"]
    assert file_io("import numpy as np\nx = np.sum(np.ones(3))\n") == []


def test_imaging_reads_and_writes_no_files():
    root = Path(medtwin.imaging.__file__).parent
    files = sorted(root.glob("*.py"))
    assert len(files) >= 5
    found = {f.name: file_io(f.read_text()) for f in files}
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_the_readers_live_in_medtwin_data():
    for name in (*READERS, "write_phantom"):
        assert name in medtwin.data.__all__ and callable(getattr(medtwin.data, name))
        assert not hasattr(medtwin.imaging, name), name
