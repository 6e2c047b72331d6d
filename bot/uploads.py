"""Who may change the knowledge base from the web app, and storing uploaded files under safe names."""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kb.errors import DjkbError

UPLOADS_DIR = "uploads"
MAX_NAME_BYTES = 150
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                       *(f"lpt{i}" for i in range(1, 10))})
_UNSAFE = re.compile(r'[<>:"|?*]')


class PermissionDenied(DjkbError):
    """A change to the knowledge base was refused: wrong password or a read-only server."""


@dataclass(frozen=True)
class Access:
    """Whether the app may change the knowledge base, and whether it asks for the admin password."""

    writable: bool
    needs_password: bool
    note: str


def is_loopback(host: str) -> bool:
    """Return whether ``host`` only accepts connections from this machine (127.0.0.1, ::1, localhost)."""
    host = (host or "").strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def access_policy(admin_password: str | None, host: str) -> Access:
    """Return the write policy: a password when one is set, else writable only on a loopback bind."""
    if admin_password:
        return Access(True, True, "修改知识库（上传、删除、重新导入）需要输入管理员密码。")
    if is_loopback(host):
        return Access(True, False, f"服务仅监听本机地址 {host}，未设置管理员密码，可直接修改知识库。")
    return Access(False, False, f"只读模式：服务监听在 {host or '所有地址'}，且未设置管理员密码。"
                                "如需在网页中上传或删除文档，请设置环境变量 DJKB_ADMIN_PASSWORD 后重启。")


def authorize(access: Access, admin_password: str | None, given: str | None) -> None:
    """Raise PermissionDenied unless ``access`` allows a change with the password ``given``."""
    if not access.writable:
        raise PermissionDenied("当前为只读模式，不能修改知识库（请设置 DJKB_ADMIN_PASSWORD 后重启服务）。")
    if access.needs_password:
        # Compare in constant time so that response times do not leak the password.
        if not given or not hmac.compare_digest(given.encode("utf-8"), (admin_password or "").encode("utf-8")):
            raise PermissionDenied("管理员密码错误，知识库未作任何修改。")


def safe_filename(name: str) -> str:
    """Return ``name`` made safe to create in the uploads folder.

    Directories, ``..``, control characters, leading dots and Windows device names are removed or neutralized,
    and the name is cut to MAX_NAME_BYTES bytes of UTF-8, keeping its (lower-cased) extension.
    """
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name).strip().lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix.strip().lower()
    stem = stem.strip(" .") or "upload"
    if stem.lower() in _RESERVED:
        stem = "_" + stem
    tail = f".{suffix}" if suffix else ""
    budget = MAX_NAME_BYTES - len(tail.encode("utf-8"))
    while len(stem.encode("utf-8")) > budget:
        stem = stem[:-1]
    return stem + tail


def upload_problem(name: str, size: int, max_bytes: int, suffixes: tuple[str, ...]) -> str | None:
    """Return why an upload named ``name`` of ``size`` bytes is refused (Chinese), or None when it is acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        return f"不支持的文件类型 {suffix or '（无扩展名）'}，支持：{' '.join(suffixes)}"
    if size > max_bytes:
        return f"文件过大（{size / 2**20:.1f} MB），上限为 {max_bytes / 2**20:.0f} MB"
    if size == 0:
        return "文件为空"
    return None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Stored:
    """An upload stored in the uploads folder, and the earlier file of the same name it replaced (kept aside)."""

    path: Path
    previous: Path | None = None

    def keep(self) -> None:
        """The new file was ingested: drop the earlier one."""
        if self.previous is not None:
            self.previous.unlink(missing_ok=True)

    def undo(self) -> None:
        """The new file was not ingested: put the earlier file back (or remove the new one if there was none)."""
        if self.previous is not None:
            os.replace(self.previous, self.path)
        else:
            self.path.unlink(missing_ok=True)


def _copy_whole(src: Path, target: Path) -> None:
    """Copy ``src`` to ``target`` through a hidden temporary file, so a failed copy (a full disk) leaves nothing."""
    tmp = target.with_name(f".{target.name}.part")
    try:
        with open(src, "rb") as f, open(tmp, "wb") as out:
            shutil.copyfileobj(f, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def store_upload(src: Path, name: str, uploads_dir: Path) -> Stored:
    """Copy ``src`` into ``uploads_dir`` as ``safe_filename(name)``.

    A file of that name with other content is a revised version: it is set aside as a hidden ``.previous`` file
    and the new one takes its name (and so its source), so that the ingest updates the same document.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    target = uploads_dir / safe_filename(name)
    previous = None
    if target.exists():
        if target.is_file() and _digest(target) == _digest(src):
            return Stored(target)
        previous = target.with_name(f".{target.name}.previous")
        os.replace(target, previous)
    try:
        _copy_whole(src, target)
    except BaseException:
        Stored(target, previous).undo()
        raise
    return Stored(target, previous)
