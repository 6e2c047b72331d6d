"""Serving a whole 机关: bounded requests, every bad input answered in specific Chinese, uploads and passwords
guarded, the Chroma server's absence survived, and a first start that does not wait.

Fast: a real on-disk knowledge base with the hashing embedder, a real Gradio server on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bot import messages as msg
from bot.guard import MAX_DELAY_S, Throttle, _chinese, delay_after
from bot.handlers import purge, shown
from bot.limits import MAX_FILES_PER_REQUEST, hide_paths
from bot.serving import check_port, check_ssl, open_service
from bot.materials import StudyRequest
from bot.service import Service
from bot.uploads import PermissionDenied, store_upload
from bot.views import plain_text
from fixtures import write_corpus
from kb.base import KnowledgeBase
from kb.config import load_settings
from kb.embedding import HashEmbedder
from kb.errors import DjkbError
from kb.retrieve import RELOAD_RETRY_S, Searcher

PASSWORD = "正确-口令-7"
CJK = re.compile(r"[\u4e00-\u9fff]")
TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in |Error:|Exception|invalid literal|errno|\[Errno")
CHROMA = Path(sys.executable).parent / "chroma"
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A small hashed knowledge base (3 regulations, 2 speeches); copy before changing it."""
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("serving")
    settings = load_settings(env={}, kb_dir=root / "kb")
    ingest(KnowledgeBase.open(settings, embedder=HashEmbedder()), write_corpus(root / "corpus"))
    return root / "kb"


def make_service(tmp_path: Path, template: Path, host: str = "127.0.0.1", **overrides) -> Service:
    kb_dir = tmp_path / "kb"
    if not kb_dir.exists():
        shutil.copytree(template, kb_dir)
    settings = load_settings(env={}, kb_dir=kb_dir, corpus=tmp_path / "corpus", **overrides)
    return Service(settings, host=host, searcher=Searcher(KnowledgeBase.open(settings, embedder=HashEmbedder())))


@pytest.fixture
def svc(tmp_path, template) -> Service:
    return make_service(tmp_path, template, admin_password=PASSWORD)


def src(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def refusal(call) -> str:
    """Return the Chinese line a web user sees for ``call``'s error (or for a refused upload's only file)."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001
        return shown(exc)
    if isinstance(result, list) and result and hasattr(result[0], "message"):
        return result[0].message
    raise AssertionError(f"not refused: {result!r}")


def fifo(tmp_path: Path) -> str:
    from ingest.pipeline import collect_files

    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return collect_files([path])[1][0][1]


def broken_link(tmp_path: Path) -> str:
    from ingest.pipeline import collect_files

    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    return collect_files([link])[1][0][1]


def wrong_three_times(svc: Service) -> None:
    for _ in range(2):
        with pytest.raises(PermissionDenied, match="管理员密码错误，"):
            svc.authorize("wrong", "10.0.0.9")
    svc.authorize("wrong", "10.0.0.9")


def raise_(text: str) -> None:
    raise DjkbError(text)


def port_taken() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        check_port("127.0.0.1", s.getsockname()[1])


# Every kind of bad input a user or operator can give, the call that gives it, and the specific Chinese it gets.
BAD_INPUT = [
    ("empty question", lambda s, t: s.ask(""), "请输入问题"),
    ("blank question", lambda s, t: s.ask(" \n\t "), "请输入问题"),
    ("question over 500 characters", lambda s, t: s.ask("党" * 501), "问题过长（501 个字符），最多 500 个字符"),
    ("100,000-character question", lambda s, t: s.search("党员" * 50_000), "查询过长（100000 个字符）"),
    ("question that is not text", lambda s, t: s.ask(123), "问题应为文本"),
    ("k not a number", lambda s, t: s.search("党费", k="abc"), "参数 k 应为 1 到 100 之间的整数，收到的是“abc”"),
    ("k zero", lambda s, t: s.search("党费", k=0), "参数 k 应在 1 到 100 之间，收到的是 0"),
    ("k huge", lambda s, t: s.search("党费", k=10**9), "参数 k 应在 1 到 100 之间"),
    ("k fractional", lambda s, t: s.search("党费", k=2.5), "参数 k 应为 1 到 100 之间的整数"),
    ("unknown search mode", lambda s, t: s.search("党费", mode="fuzzy"), "未知检索模式 'fuzzy'"),
    ("unknown document type", lambda s, t: s.ask("党费", doc_type="novel"), "未知文档类型 'novel'"),
    ("unknown document", lambda s, t: s.ask("党费", doc="不存在的文件"), "知识库中没有文档 不存在的文件"),
    ("document name over 200 characters", lambda s, t: s.ask("党费", doc="文" * 201), "doc过长（201 个字符）"),
    ("unknown passage id", lambda s, t: s.chunk("no-such-chunk"), "知识库中没有片段 no-such-chunk"),
    ("empty study topic", lambda s, t: StudyRequest.of("  "), "请输入学习主题"),
    ("study topic over 100 characters", lambda s, t: StudyRequest.of("党" * 101), "学习主题过长（101 个字符），最多 100"),
    ("quiz size not a number", lambda s, t: s.quiz("党费", n="many"), "参数 题目数量 n 应为 1 到 30 之间的整数"),
    ("quiz size out of range", lambda s, t: s.quiz("党费", n=500), "参数 题目数量 n 应在 1 到 30 之间，收到的是 500"),
    ("negative seed", lambda s, t: s.quiz("党费", seed=-1), "参数 随机种子 seed 应在 0 到"),
    ("upload without files", lambda s, t: s.upload([], PASSWORD), "请先选择要上传的文件"),
    ("too many files in one upload",
     lambda s, t: s.upload([(src(t, f"{i}.txt", "党"), f"{i}.txt") for i in range(MAX_FILES_PER_REQUEST + 1)],
                           PASSWORD), f"一次最多上传 {MAX_FILES_PER_REQUEST} 个文件，本次选择了 21 个"),
    ("unsupported file type", lambda s, t: s.upload([(src(t, "表.csv", "a,b"), "表.csv")], PASSWORD),
     "不支持的文件类型 .csv"),
    ("empty file", lambda s, t: s.upload([(src(t, "空.txt", ""), "空.txt")], PASSWORD), "文件为空"),
    ("file over the size limit", lambda s, t: s.upload([(src(t, "大.txt", b"x" * (2**20 + 1)), "大.txt")], PASSWORD),
     "文件过大（1.0 MB），上限为 1 MB"),
    ("undecodable file", lambda s, t: s.upload([(src(t, "坏.docx", b"PK\x03\x04 not a docx"), "坏.docx")], PASSWORD),
     "导入失败"),
    ("wrong admin password", lambda s, t: s.delete("测试工作条例一", "wrong"), "管理员密码错误，知识库未作任何修改"),
    ("wrong passwords in a row", lambda s, t: wrong_three_times(s), "管理员密码错误次数过多，请 1 秒后再试"),
    ("delete with no document chosen", lambda s, t: s.delete("", PASSWORD), "请先选择要删除的文档"),
    ("unknown re-import source", lambda s, t: s.reingest("everything", PASSWORD), "未知的导入来源 'everything'"),
    ("re-import before any upload", lambda s, t: s.reingest("uploads", PASSWORD), "目录不存在：uploads（还没有上传过文件）"),
    ("DJKB_MAX_UPLOAD_MB not a number", lambda s, t: load_settings(env={"DJKB_MAX_UPLOAD_MB": "abc"}),
     "环境变量 DJKB_MAX_UPLOAD_MB 的值“abc”无效：应为正整数"),
    ("DJKB_MAX_UPLOAD_MB zero", lambda s, t: load_settings(env={"DJKB_MAX_UPLOAD_MB": "0"}), "DJKB_MAX_UPLOAD_MB 的值“0”无效"),
    ("port already in use", lambda s, t: port_taken(), "已被占用"),
    ("host not on this machine", lambda s, t: check_port("203.0.113.7", free_port()), "无法在 203.0.113.7"),
    ("TLS certificate without key", lambda s, t: check_ssl(t, None), "TLS 设置有误：只给出了其中一个文件"),
    ("TLS file missing", lambda s, t: check_ssl(t / "no.pem", t / "no.key"), "TLS 设置有误：文件 no.pem 不存在或不可读"),
    ("Chroma server not running at start",
     lambda s, t: open_service(load_settings(env={}, kb_dir=t / "empty", chroma_url=f"127.0.0.1:{free_port()}"),
                               "127.0.0.1", 0, print), "无法连接 Chroma 服务"),
    ("a FIFO given to ingest", lambda s, t: raise_(fifo(t)), "不是普通文件或文件夹（如管道"),
    ("a broken symlink given to ingest", lambda s, t: raise_(broken_link(t)),
     "符号链接指向的文件不存在"),
    ("Gradio: file over its size limit",
     lambda s, t: raise_(_chinese(b"File size exceeded maximum allowed size of 20971520 bytes.", 20, 20).decode()),
     "文件过大：单个文件不超过 20 MB"),
    ("Gradio: too many files",
     lambda s, t: raise_(_chinese(b"Too many files. Maximum number of files is 1000.", 20, 20).decode()),
     "一次最多上传 20 个文件"),
    ("an unexpected error inside the server", lambda s, t: 1 / 0, "服务内部出错"),
]


@pytest.mark.parametrize("kind, call, expected", BAD_INPUT, ids=[k for k, _, _ in BAD_INPUT])
def test_bad_input_gets_a_specific_chinese_message(kind, call, expected, tmp_path, template):
    svc = make_service(tmp_path, template, admin_password=PASSWORD, max_upload_mb=1)
    text = refusal(lambda: call(svc, tmp_path))
    assert expected in text, text
    assert CJK.search(text) and not TRACEBACK.search(text) and str(tmp_path) not in text


def test_the_table_names_at_least_25_kinds():
    assert len({k for k, _, _ in BAD_INPUT}) == len(BAD_INPUT) >= 25


def test_a_wrong_password_delays_the_next_try_exponentially_and_the_right_one_clears_it():
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert [delay_after(n) for n in range(1, 6)] == [0, 1, 2, 4, 8] and delay_after(100) == MAX_DELAY_S
    for _ in range(3):
        throttle.failed("a")
    assert throttle.wait_left("a") == 2 and throttle.wait_left("b") == 0, "per client"
    now[0] = 2.5
    assert throttle.wait_left("a") == 0 and not throttle.unlocked("a")
    throttle.succeeded("a")
    assert throttle.unlocked("a") and throttle.wait_left("a") == 0


def test_the_right_password_during_the_delay_is_refused_too(svc):
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            svc.authorize("wrong", "10.1.1.1")
    with pytest.raises(PermissionDenied, match="秒后再试"):
        svc.authorize(PASSWORD, "10.1.1.1")
    svc.authorize(PASSWORD, "10.1.1.2")  # another client is not held up


def test_revised_upload_under_the_same_name_updates_the_same_document(svc, tmp_path):
    first = svc.upload([(src(tmp_path, "a/通知.txt", "党费收缴通知\n每月五日前交纳党费。\n"), "通知.txt")], PASSWORD)
    assert first[0].status == "added"
    n_docs = len(svc.documents())
    again = svc.upload([(src(tmp_path, "b/通知.txt", "党费收缴通知\n每月十日前交纳党费。\n"), "通知.txt")], PASSWORD)
    assert again[0].status == "updated" and again[0].stored_as == "通知.txt"
    assert len(svc.documents()) == n_docs
    assert sorted(p.name for p in (svc.uploads_dir).iterdir()) == ["通知.txt"]
    assert "十日" in (svc.uploads_dir / "通知.txt").read_text(encoding="utf-8")


def test_a_failed_revision_keeps_the_earlier_file(tmp_path):
    uploads = tmp_path / "uploads"
    stored = store_upload(src(tmp_path, "v1.txt", "甲"), "规定.txt", uploads)
    assert stored.previous is None and store_upload(src(tmp_path, "v1b.txt", "甲"), "规定.txt", uploads).previous is None
    revised = store_upload(src(tmp_path, "v2.txt", "乙"), "规定.txt", uploads)
    assert revised.path == stored.path and (uploads / "规定.txt").read_text(encoding="utf-8") == "乙"
    revised.undo()
    assert [p.name for p in uploads.iterdir()] == ["规定.txt"] and stored.path.read_text(encoding="utf-8") == "甲"


def test_gradio_temporary_uploads_are_purged_only_inside_its_folder(tmp_path):
    inside, outside = tmp_path / "gradio" / "abc" / "a.txt", tmp_path / "mine.txt"
    inside.parent.mkdir(parents=True)
    inside.write_text("x")
    outside.write_text("y")
    purge([str(inside), str(outside)], folder=str(tmp_path / "gradio"))
    assert not inside.exists() and not inside.parent.exists() and outside.exists()


def test_links_in_document_text_are_shown_with_their_address():
    text = plain_text("详见[中央文件](http://evil.example/a)和![图](x.png)，第[1]条<b>")
    assert "中央文件（http://evil.example/a）" in text and "](" not in text and "&lt;b&gt;" in text and "[1]" in text


def test_server_paths_are_cut_to_names():
    assert hide_paths("目录不存在：/home/u/kb/uploads（还没有）") == "目录不存在：uploads（还没有）"
    assert hide_paths("无法连接 Chroma 服务 http://127.0.0.1:8000/api") == "无法连接 Chroma 服务 http://127.0.0.1:8000/api"


def test_control_characters_in_file_names_do_not_reach_titles(hash_kb, tmp_path):
    from ingest.pipeline import ingest

    path = src(tmp_path, "关于\n党费\x07的\t通知.txt", "各支部应当按时收缴党费，并公布收缴情况。\n")
    ingest(hash_kb, [path])
    (title,) = [e.title for e in hash_kb.catalog.load().documents.values()]
    assert title == "关于 党费 的 通知"


# ------------------------------------------------------------------------------------------ a real server

def launch(svc: Service):
    from bot.app import launch as start

    demo, url = start(svc.settings, "127.0.0.1", free_port(), prevent_thread_lock=True, service=svc)
    return demo, url


def post_file(url: str, name: str = "a.txt", data: bytes = "党".encode()):
    import httpx

    return httpx.post(url + "gradio_api/upload", files=[("files", (name, data, "text/plain"))], timeout=30)


def gradio_files(before: set[Path]) -> set[Path]:
    from gradio.utils import get_upload_folder

    return {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()} - before


def test_uploads_reach_disk_only_after_the_write_policy_allows_them(tmp_path, template):
    from gradio.utils import get_upload_folder
    from gradio_client import Client

    before = {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()}
    readonly = make_service(tmp_path / "ro", template, host="0.0.0.0")
    demo, url = launch(readonly)
    try:
        r = post_file(url)
        assert r.status_code == 403 and r.text == msg.UPLOAD_READ_ONLY
    finally:
        demo.close()
    guarded = make_service(tmp_path / "pw", template, admin_password=PASSWORD, max_upload_mb=1)
    demo, url = launch(guarded)
    try:
        r = post_file(url)
        assert r.status_code == 403 and "请先在“管理员密码”框输入密码" in r.text
        assert not gradio_files(before), "nothing refused reached the disk"
        client = Client(url, verbose=False)
        status = client.predict("wrong", api_name="/unlock")[0]
        assert "管理员密码错误" in status and post_file(url).status_code == 403
        status = client.predict(PASSWORD, api_name="/unlock")[0]
        assert msg.UNLOCKED in status
        too_big = post_file(url, "大.txt", b"x" * (2**20 + 10))
        assert too_big.status_code == 413 and too_big.text == msg.upload_too_large(1)
        before |= gradio_files(before)  # Gradio's partial copy of a refused file: its hourly cache purge takes it
        ok = post_file(url)
        assert ok.status_code == 200 and len(gradio_files(before)) == 1
        result = client.predict([{"path": ok.json()[0], "meta": {"_type": "gradio.FileData"}}], PASSWORD,
                                api_name="/upload")
        assert result[1]["files"][0]["status"] == "added"
        assert not Path(ok.json()[0]).exists(), "the temporary copy is purged once ingested"
    finally:
        demo.close()


def test_no_traceback_or_server_path_reaches_a_web_user(tmp_path, template, monkeypatch):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    svc = make_service(tmp_path, template, admin_password=PASSWORD)
    demo, url = launch(svc)
    try:
        client = Client(url, verbose=False)
        calls = [lambda: client.predict("党费", "abc", api_name="/search"),
                 lambda: client.predict("党" * 100_000, api_name="/ask"),
                 lambda: client.predict("x", api_name="/context"),
                 lambda: client.predict("uploads", PASSWORD, api_name="/reingest"),
                 lambda: client.predict("党费", "many", api_name="/quiz")]
        messages = []
        for call in calls:
            with pytest.raises(AppError) as info:
                call()
            messages.append(str(info.value))
        monkeypatch.setattr(svc.searcher, "search", lambda *a, **k: 1 / 0)
        with pytest.raises(AppError) as info:
            client.predict("党费", api_name="/search")
        messages.append(str(info.value))
        chat = client.predict("党费怎么交？", [], "", "", api_name="/chat")[0]
        messages.append(chat[-1]["content"][0]["text"])
    finally:
        demo.close()
    assert messages[-2] == msg.INTERNAL_ERROR and msg.INTERNAL_ERROR in messages[-1]
    assert "目录不存在：uploads" in messages[3] and "问题过长（100000 个字符）" in messages[1]
    for text in messages:
        assert CJK.search(text) and not TRACEBACK.search(text) and str(tmp_path) not in text, text


def test_a_long_question_is_refused_at_once_in_the_chat(tmp_path, template):
    from gradio_client import Client

    svc = make_service(tmp_path, template)
    demo, url = launch(svc)
    try:
        client = Client(url, verbose=False)
        chat, _, box = client.predict("党" * 100_000, [], "", "", api_name="/chat")
        normal = client.predict("测试工作条例一关于学习制度的要求", [], "", "", api_name="/chat")[0]
    finally:
        demo.close()
    assert chat == {"__type__": "update"} and box == {"__type__": "update"}, "nothing changed, nothing searched"
    assert normal[-1]["role"] == "assistant"


# ------------------------------------------------------------------------------------------ Chroma server mode

def start_chroma(path: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([str(CHROMA), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.25)
    proc.kill()
    raise AssertionError("chroma run did not start")


@pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI is not installed beside this Python")
def test_chroma_server_stopped_and_restarted_while_the_app_serves(tmp_path):
    """Questions are answered in full from the vectors loaded in memory while Chroma is away; writes are refused;
    a change another process committed before Chroma went away is loaded once it is back, and meanwhile said."""
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from ingest.pipeline import ingest

    port, data = free_port(), tmp_path / "chroma-data"
    chroma = start_chroma(data, port)
    try:
        settings = load_settings(env={}, kb_dir=tmp_path / "kb", chroma_url=f"http://127.0.0.1:{port}")
        kb = KnowledgeBase.open(settings, embedder=HashEmbedder())
        corpus = write_corpus(tmp_path / "corpus")
        ingest(kb, corpus)
        svc = Service(settings, searcher=Searcher(kb))
        demo, url = launch(svc)
        client = Client(url, verbose=False)
        question = "测试工作条例一关于学习制度的第1项要求"
        before = client.predict(question, api_name="/ask")
        dense = client.predict(question, 3, "", "", "dense", api_name="/search")
        assert not before.get("notice") and dense

        chroma.terminate()
        chroma.wait(30)
        answer = client.predict(question, api_name="/ask")
        assert answer == before, "the same answer, from the vectors in memory"
        assert client.predict(question, 3, "", "", "dense", api_name="/search") == dense
        chat = client.predict(question, [], "", "", api_name="/chat")[0]
        assert before["answer"][:20] in chat[-1]["content"][0]["text"]
        with pytest.raises(AppError, match="向量库（Chroma 服务）暂时无法连接，本次修改未执行"):
            client.predict("测试工作条例二", api_name="/delete")
        assert len(client.predict(api_name="/documents")) == 5

        # another process commits a new document, then Chroma goes away before this app has loaded it
        chroma = start_chroma(data, port)
        extra = tmp_path / "extra"
        extra.mkdir()
        (extra / "测试补充规定.txt").write_text("测试补充规定\n第一条 补充规定的独有词是青松翠柏。\n", encoding="utf-8")
        ingest(KnowledgeBase.open(settings, embedder=HashEmbedder()), [extra])
        chroma.terminate()
        chroma.wait(30)
        stale = client.predict(question, api_name="/ask")
        assert msg.STORE_DOWN_STALE in (stale.get("notice") or "")
        assert stale["answer"] == before["answer"]

        chroma = start_chroma(data, port)
        time.sleep(RELOAD_RETRY_S)  # a failed reload is tried again after this long
        answer = client.predict(question, api_name="/ask")
        assert not answer.get("notice")
        hits = client.predict("青松翠柏", 3, "", "", "hybrid", api_name="/search")
        assert hits and "测试补充规定" in json.dumps(hits, ensure_ascii=False)
        demo.close()
    finally:
        chroma.terminate()
        chroma.wait(30)


# ------------------------------------------------------------------------------------------ first start

class GatedEmbedder(HashEmbedder):
    """Embeds the first ``free`` batches at once, then waits for ``gate``: an import caught half-way."""

    def __init__(self, free: int):
        self.free, self.gate = free, threading.Event()

    def embed_passages(self, texts, **kw) -> np.ndarray:
        if threading.current_thread().name == "djkb-import":  # queries embed through here too
            if self.free <= 0:
                assert self.gate.wait(60)
            self.free -= 1
        return super().embed_passages(texts, **kw)


def test_first_start_imports_regulations_first_in_the_background(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    corpus = tmp_path / "corpus"
    write_corpus(corpus / "regulations", regulations=3, speeches=0)
    write_corpus(corpus / "speeches", regulations=0, speeches=2)
    settings = load_settings(env={}, kb_dir=tmp_path / "kb", corpus=corpus)
    embedder = GatedEmbedder(free=1)
    svc = Service(settings, searcher=Searcher(KnowledgeBase.open(settings, embedder=embedder)))
    svc.start_import(corpus)
    for _ in range(200):
        if svc.documents():
            break
        time.sleep(0.05)
    demo, url = launch(svc)
    try:
        state = svc.import_state()
        assert state.running and 0 < state.done <= state.total == 5
        assert {d["doc_type"] for d in svc.documents()} == {"regulation"}, "regulations first"
        answer = svc.ask("测试工作条例一关于学习制度的第1项要求")
        assert "知识库仍在导入" in answer.notice
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(locale="en-US")
            page.goto(url)
            expect(page.locator("#djkb-import")).to_contain_text(re.compile(r"正在导入 \d/5 …"))
            embedder.gate.set()
            svc.importer.join(60)
            expect(page.locator("#djkb-import")).to_contain_text("导入完成：新增 5 篇", timeout=15_000)
            page.get_by_role("tab", name="知识库").click()
            expect(page.locator("#djkb-files")).to_contain_text("拖放文件到此处")  # Gradio's "Drop File Here"
            expect(page.locator("#djkb-files")).not_to_contain_text("Drop File Here")
            browser.close()
    finally:
        embedder.gate.set()
        demo.close()
    assert len(svc.documents()) == 5 and "知识库仍在导入" not in (svc.ask("测试工作条例一").notice or "")


# ------------------------------------------------------------------------------------------ shared query passes

def test_concurrent_queries_share_embedding_passes_and_get_their_own_vectors():
    from bot.batching import BatchingEmbedder

    class Counting(HashEmbedder):
        passes: list[int] = []

        def embed_queries(self, texts):
            self.passes.append(len(texts))
            time.sleep(0.05)  # a pass long enough for others to queue behind it
            return super().embed_queries(texts)

    inner = Counting()
    shared = BatchingEmbedder(inner)
    texts = [f"第{i}个问题：党费怎样交纳" for i in range(24)]
    out: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, shared.embed_queries([texts[i]])))
               for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.allclose(out[i][0], HashEmbedder().embed_queries([texts[i]])[0]) for i in range(24))
    assert sum(inner.passes) == 24 and len(inner.passes) < 24 and max(inner.passes) > 1
    assert shared.name == inner.name and shared.embed_passages(["甲乙"]).shape == (1, inner.dim)


def test_exports_live_in_one_folder_removed_with_the_service(tmp_path, template):
    import gc

    svc = make_service(tmp_path, template)
    assert "export_dir" not in vars(svc)  # nothing is made until something is exported
    files = svc.export(svc.study(StudyRequest.of("党费", 3)))
    folder = svc.export_dir
    assert all(f.exists() and folder in f.parents for f in files)
    del svc, files
    gc.collect()
    assert not folder.exists()


def test_the_off_topic_check_is_built_in_the_background_before_the_first_question(svc):
    """`djkb serve` starts it and the article questions' index at start-up; the thread leaves both on the searcher."""
    assert "off_topic" not in svc.searcher.__dict__ and svc.searcher._asked is None and "written" not in svc.searcher.__dict__
    svc.prepare_checks().join(timeout=240)  # 4,074 questions to embed on a machine without a vector cache
    assert "off_topic" in svc.searcher.__dict__ and svc.searcher.off_topic.weights is not None
    assert svc.searcher._asked is not None
