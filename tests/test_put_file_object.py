"""``files.put`` with a file object as ``src`` uploads what the object holds, on every host
that makes the call: the object is read each time the call is planned (discovery, then on each
host), so reading it must not leave it at its end (it once did: every upload was empty)."""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import run_deploy, write_deploy


def test_put_uploads_the_contents_of_a_file_object(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""
        import io
        from oxinfra.operations import files
        files.put(name="buffer", src=io.BytesIO(b"hello\\n"), dest={str(tmp_path / "a")!r})
        files.put(name="text", src=io.StringIO("h\\u00e9\\n"), dest={str(tmp_path / "b")!r})

        class Reader:  # a file object that is no in-memory buffer: read from where it stands
            def __init__(self, data):
                self.data, self.at = data, 0

            def read(self):
                out, self.at = self.data[self.at :], len(self.data)
                return out

            def tell(self):
                return self.at

            def seek(self, at):
                self.at = at

        files.put(name="file", src=Reader(b"from a file\\n"), dest={str(tmp_path / "c")!r})
        """,
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    assert (tmp_path / "a").read_bytes() == b"hello\n"
    assert (tmp_path / "b").read_bytes() == "hé\n".encode()
    assert (tmp_path / "c").read_bytes() == b"from a file\n"
    again = run_deploy("@local", deploy, "--no-host-lock")
    assert set(again.statuses("@local").values()) == {"unchanged"}, again.describe()
