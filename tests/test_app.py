"""The web app through its named API: a real Gradio server on 127.0.0.1 driven by gradio_client."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.uploads import PermissionDenied, access_policy, authorize, is_loopback, safe_filename, store_upload
from bot.reports import find_report, load_report
from bot.views import highlight, report_page
from fixtures import write_corpus
from kb.base import KnowledgeBase
from kb.config import Settings, load_settings
from kb.retrieve import Searcher

PASSWORD = "测试-secret-42"
UNIQUE = "星火试验田党支部规定，每逢单月的第三个周四开展“青松夜读”活动，并由组织委员记录在册。"
SCRIPT = "<script>window.__djkb_pwned = 1</script>"
# Gradio's queue statistics use pandas options that pandas 3 deprecates; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
API = {"/chat", "/study", "/export", "/upload", "/ask", "/search", "/outline", "/quiz", "/documents", "/context",
       "/delete", "/reingest", "/eval_report"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: Settings, searcher: Searcher, reports_dir: Path | None = None) -> Iterator[tuple[str, object]]:
    """Run the app on a free loopback port; yield (url, gradio_client.Client)."""
    from gradio_client import Client

    from bot.app import launch

    settings = settings.with_(reports_dir=reports_dir)
    demo, url = launch(settings, "127.0.0.1", free_port(), prevent_thread_lock=True, searcher=searcher)
    downloads = tempfile.mkdtemp(prefix="djkb-downloads-")
    try:
        yield url, Client(url, verbose=False, download_files=downloads)
    finally:
        demo.close()
        shutil.rmtree(downloads, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_template(tmp_path_factory, embedder) -> Path:
    """A small knowledge base (3 test regulations, 2 speeches) embedded with the real model; copy it before use."""
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("tiny")
    settings = load_settings(env={}, kb_dir=root / "kb")
    report = ingest(KnowledgeBase.open(settings, embedder=embedder), write_corpus(root / "corpus"))
    assert len(report.added) == 5, report.to_dict()
    return root / "kb"


@pytest.fixture
def tiny(tmp_path, tiny_template, embedder):
    """Return a factory of (settings, searcher) over a private copy of the small knowledge base."""

    def make(**overrides) -> tuple[Settings, Searcher]:
        kb_dir = tmp_path / "kb"
        if not kb_dir.exists():
            shutil.copytree(tiny_template, kb_dir)
        settings = load_settings(env={}, kb_dir=kb_dir, corpus=tmp_path / "corpus", **overrides)
        return settings, Searcher(KnowledgeBase.open(settings, embedder=embedder))

    return make


@pytest.fixture(scope="module")
def corpus_app(corpus_settings, searcher, tmp_path_factory):
    """The app over the whole-corpus knowledge base, guarded by a password so no test can change it."""
    settings = corpus_settings.with_(admin_password=PASSWORD)
    reports = tmp_path_factory.mktemp("no-reports")
    with serve(settings, searcher, reports) as (url, client):
        yield client


def note(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ policy and names

@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("[::1]", True), ("127.0.0.2", True), ("0.0.0.0", False),
                                            ("192.168.1.20", False), ("", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_write_policy():
    assert access_policy(None, "127.0.0.1").writable
    readonly = access_policy(None, "0.0.0.0")
    assert not readonly.writable and "只读" in readonly.note and "DJKB_ADMIN_PASSWORD" in readonly.note
    with pytest.raises(PermissionDenied, match="只读"):
        authorize(readonly, None, "anything")
    guarded = access_policy("pw", "0.0.0.0")
    assert guarded.writable and guarded.needs_password
    authorize(guarded, "pw", "pw")
    for wrong in ("", None, "PW", "pw "):
        with pytest.raises(PermissionDenied, match="密码错误"):
            authorize(guarded, "pw", wrong)


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.md", "win.ini.md"),
    ("con\x00.txt", "_con.txt"),
    ("a\x1b[31mb\n.TXT", "a[31mb.txt"),
    (".hidden.txt", "hidden.txt"),
    ("....txt", "txt"),
    ("报告<1>:草稿?.docx", "报告_1__草稿_.docx"),
    ("", "upload"),
    ("/", "upload"),
])
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_safe_filename_cuts_long_names_and_keeps_the_extension():
    name = safe_filename("党" * 300 + ".txt")
    assert name.endswith(".txt") and name.startswith("党") and len(name.encode("utf-8")) <= 150


def test_store_upload_never_leaves_the_folder_and_a_revision_takes_the_name(tmp_path):
    a, b = note(tmp_path, "a.txt", "甲"), note(tmp_path, "b.txt", "乙")
    uploads = tmp_path / "uploads"
    first = store_upload(a, "../../evil.txt", uploads)
    assert first.path == uploads / "evil.txt" and first.previous is None
    assert store_upload(a, "evil.txt", uploads) == first, "same content reuses the file"
    second = store_upload(b, "evil.txt", uploads)
    assert second.path == first.path and second.path.read_text(encoding="utf-8") == "乙"
    second.keep()
    assert sorted(p.name for p in uploads.iterdir()) == ["evil.txt"]
    assert not (tmp_path.parent / "evil.txt").exists()


# ------------------------------------------------------------------------------------------ rendering

def test_highlight_escapes_before_marking():
    html = highlight(f"党员{SCRIPT}应当&lt;参加", ["党员", "script", "参加"])
    assert "<script>" not in html and "&lt;<mark>script</mark>&gt;" in html
    assert html.startswith("<mark>党员</mark>") and "&amp;lt;" in html and "<mark>参加</mark>" in html


def test_eval_report_discovery(tmp_path):
    assert find_report(tmp_path / "missing") is None
    old, new, broken = (tmp_path / n for n in ("2026-01-01", "2026-02-01", "2026-03-01"))
    for d in (old, new):
        d.mkdir()
        (d / "report.md").write_text(f"# 评测 {d.name}\n\n![hit@k](hit_at_k.png)\n", encoding="utf-8")
        (d / "metrics.json").write_text('{"hit@5": 0.9}', encoding="utf-8")
        (d / "hit_at_k.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    broken.mkdir()
    (broken / "report.md").write_text("# 未完成", encoding="utf-8")
    (tmp_path / "LATEST").write_text("2026-01-01\n", encoding="utf-8")
    report = load_report(tmp_path)
    assert report.directory == old and "评测 2026-01-01" in report.markdown
    assert [p.name for p in report.charts] == ["hit_at_k.png"] and report.metrics == {"hit@5": 0.9}
    page = report_page(report)
    assert f"![hit@k](gradio_api/file={old}/hit_at_k.png)" in page and page.count("![") == 1
    (tmp_path / "LATEST").write_text("gone\n", encoding="utf-8")
    assert find_report(tmp_path) in (old, new) and find_report(tmp_path) != broken


# ------------------------------------------------------------------------------------------ corpus app

@pytest.mark.corpus
def test_every_function_has_a_named_endpoint(corpus_app):
    endpoints = corpus_app.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert API <= set(endpoints)


@pytest.mark.corpus
@pytest.mark.parametrize("question, gold", [
    ("党员可以信仰宗教吗？", {("中国共产党纪律处分条例", "第六十二条"), ("中国共产党党员教育管理工作条例", "第三十一条")}),
    ("预备党员的预备期是多长时间？", {("中国共产党章程", "第七条"), ("中国共产党发展党员工作细则", "第二十五条")}),
])
def test_ask_returns_an_answer_citing_the_gold_article(corpus_app, question, gold):
    result = corpus_app.predict(question, "", "", api_name="/ask")
    assert not result["refused"] and result["answer"]
    cited = {(c["doc_title"], c["article"]) for c in result["citations"]}
    assert cited & gold, cited
    assert set(result) >= {"query", "rewritten_query", "answer", "refused", "citations"}


@pytest.mark.corpus
def test_ask_refuses_with_related_passages(corpus_app):
    result = corpus_app.predict("怎样用Python写一个快速排序？", api_name="/ask")
    assert result["refused"] and result["answer"].startswith("知识库中没有找到相关依据")
    assert result["citations"] == [] and "related" in result


@pytest.mark.corpus
def test_chat_streams_cites_and_follows_up(corpus_app):
    job = corpus_app.submit("预备党员的预备期是多长时间？", [], "", "", api_name="/chat")
    chat, cards = job.result()[:2]
    assert len(job.outputs()) >= 2, "the answer streams"
    reply = chat[-1]["content"][0]["text"]
    assert "预备期为一年" in reply and "[1]" in reply
    assert "《中国共产党章程》" in cards and "第七条" in cards and "<mark>预备期</mark>" in cards
    assert "查看本条全文及上下文" in cards and "djkb-here" in cards

    chat, cards = corpus_app.predict("党章第十条", [], "", "", api_name="/chat")[:2]
    assert "第十条" in cards
    chat, cards = corpus_app.predict("第十一条呢？", chat, "", "", api_name="/chat")[:2]
    reply = chat[-1]["content"][0]["text"]
    assert "（理解为：《中国共产党章程》第十一条" in reply and "第十一条" in cards


@pytest.mark.corpus
def test_chat_refusal_shows_possibly_related_cards(corpus_app):
    chat, cards = corpus_app.predict("怎样用Python写一个快速排序？", [], "", "", api_name="/chat")[:2]
    assert "知识库中没有找到相关依据" in chat[-1]["content"][0]["text"]
    assert "知识库中没有找到相关依据" in cards


@pytest.mark.corpus
def test_chat_refusal_carries_its_reason(corpus_app):
    chat, cards = corpus_app.predict("问责条例里规定了哪些问责方式？", [], "", "", api_name="/chat")[:2]
    reply = chat[-1]["content"][0]["text"]
    assert "知识库中没有找到相关依据" in reply and "问责条例》" in reply
    assert "问责条例》" in cards


@pytest.mark.corpus
def test_search_with_filters(corpus_app):
    hits = corpus_app.predict("民主生活会", 5, "regulation", "", api_name="/search")
    assert len(hits) == 5 and {h["doc_type"] for h in hits} == {"regulation"}
    hits = corpus_app.predict("民主生活会", 5, "", "中国共产党章程", api_name="/search")
    assert hits and {h["doc_title"] for h in hits} == {"中国共产党章程"}
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="没有文档"):
        corpus_app.predict("民主生活会", 5, "", "没有这篇文档", api_name="/search")


@pytest.mark.corpus
def test_context_returns_the_whole_article(corpus_app):
    hit = corpus_app.predict("党章第十条", 1, api_name="/search")[0]
    ctx = corpus_app.predict(hit["chunk_id"], api_name="/context")
    assert ctx["article"] == "第十条" and "第十条 党是根据" in ctx["focus"] and ctx["before"] and ctx["after"]


@pytest.mark.corpus
def test_outline_quiz_and_export(corpus_app):
    from docx import Document

    result = corpus_app.predict("民主生活会", api_name="/outline")
    assert result["groups"] and result["groups"][0]["doc_type"] == "regulation"
    assert all(p["text"] for g in result["groups"] for p in g["points"])
    items = corpus_app.predict("预备党员", 6, 3, api_name="/quiz")
    assert len(items) == 6 and {i["kind"] for i in items} == {"single", "multi", "judge", "fill"}
    assert all(i["question"].replace("＿＿＿＿", i["answer"]) == i["sentence"] for i in items
               if i["kind"] in ("single", "fill"))
    assert corpus_app.predict("预备党员", 6, 3, api_name="/quiz") == items
    md, docx, xlsx = corpus_app.predict("预备党员", 6, 3, api_name="/export")
    assert Path(xlsx).suffix == ".xlsx"
    text = Path(md).read_text(encoding="utf-8")
    assert Path(md).name == "学习材料-预备党员.md" and "参考答案" in text
    assert all(i["question"] in text for i in items)
    paragraphs = [p.text for p in Document(docx).paragraphs]
    assert "三、参考答案" in paragraphs and any(items[0]["question"] in p for p in paragraphs)


@pytest.mark.corpus
def test_documents_list_stats_and_audit(corpus_app, corpus_settings):
    docs = corpus_app.predict(api_name="/documents")
    from kb.catalog import Catalog

    assert len(docs) == len(Catalog(corpus_settings.kb_dir).load().documents) > 400
    charter = next(d for d in docs if d["title"] == "中国共产党章程")
    assert charter["doc_type"] == "regulation" and charter["articles"] >= 50 and charter["audit"] == "完整"


@pytest.mark.corpus
def test_wrong_password_changes_nothing(corpus_app):
    from gradio_client.exceptions import AppError

    before = corpus_app.predict(api_name="/documents")
    charter = next(d for d in before if d["title"] == "中国共产党章程")
    for call in (lambda: corpus_app.predict(charter["doc_id"], "wrong", api_name="/delete"),
                 lambda: corpus_app.predict(charter["doc_id"], api_name="/delete"),
                 lambda: corpus_app.predict("corpus", "wrong", api_name="/reingest")):
        with pytest.raises(AppError, match="密码错误"):
            call()
    assert corpus_app.predict(api_name="/documents") == before


@pytest.mark.corpus
def test_eval_report_when_there_is_none(corpus_app):
    result = corpus_app.predict(api_name="/eval_report")
    assert result["found"] is False and "djkb eval" in result["message"]


# ------------------------------------------------------------------------------------------ changing a small KB

def _upload(client, *paths: Path, password: str = "") -> list[dict]:
    """Upload through /upload; return its per-file outcomes, or raise PermissionDenied with its message."""
    from gradio_client import handle_file

    status, detail = client.predict([handle_file(str(p)) for p in paths], password, api_name="/upload")[:2]
    if not detail["ok"] and "error" in detail:
        assert status.startswith("【失败】")
        raise PermissionDenied(detail["error"])
    return detail["files"]


def test_upload_search_delete_round_trip(tiny, tmp_path):
    settings, searcher = tiny()
    src = note(tmp_path, "青松夜读制度.txt", f"青松夜读制度\n{UNIQUE}\n")
    with serve(settings, searcher) as (url, client):
        n_docs = len(client.predict(api_name="/documents"))
        files = _upload(client, src)
        assert files == [{"name": "青松夜读制度.txt", "stored_as": "青松夜读制度.txt", "status": "added", "ok": True,
                          "message": "已导入：《青松夜读制度》"}]
        assert (settings.kb_dir / "uploads" / "青松夜读制度.txt").is_file()
        hits = client.predict("青松夜读活动什么时候开展？", 3, api_name="/search")
        assert hits[0]["doc_title"] == "青松夜读制度" and "第三个周四" in hits[0]["text"]
        answer = client.predict("青松夜读活动什么时候开展？", api_name="/ask")
        assert not answer["refused"] and "第三个周四" in answer["answer"]
        assert len(client.predict(api_name="/documents")) == n_docs + 1

        again = _upload(client, src)
        assert again[0]["status"] == "unchanged" and not (settings.kb_dir / "uploads" / "青松夜读制度-2.txt").exists()

        assert "已删除：《青松夜读制度》" in client.predict("青松夜读制度", api_name="/delete")["message"]
        assert not (settings.kb_dir / "uploads" / "青松夜读制度.txt").exists()
        assert all(h["doc_title"] != "青松夜读制度" for h in client.predict("青松夜读", 5, api_name="/search"))
        assert len(client.predict(api_name="/documents")) == n_docs


def test_upload_rejections_are_per_file_and_in_chinese(tiny, tmp_path):
    settings, searcher = tiny(max_upload_mb=1)
    good = note(tmp_path, "好文件.md", f"# 好文件\n\n{UNIQUE}\n")
    wrong_type = note(tmp_path, "表格.csv", "a,b\n1,2\n")
    empty = note(tmp_path, "空白.txt", "")
    broken = tmp_path / "src" / "损坏.docx"
    broken.write_bytes(b"PK\x03\x04 this is not a real docx")
    with serve(settings, searcher) as (url, client):
        files = {f["name"]: f for f in _upload(client, good, wrong_type, empty, broken)}
        assert files["好文件.md"]["status"] == "added"
        assert files["表格.csv"]["status"] == "rejected" and "不支持的文件类型 .csv" in files["表格.csv"]["message"]
        assert files["空白.txt"]["status"] == "rejected" and "文件为空" in files["空白.txt"]["message"]
        assert files["损坏.docx"]["status"] == "failed" and "导入失败" in files["损坏.docx"]["message"]
        assert sorted(p.name for p in (settings.kb_dir / "uploads").iterdir()) == ["好文件.md"]
        assert client.predict("青松夜读", 3, api_name="/search")[0]["doc_title"] == "好文件"

        big = tmp_path / "src" / "超大.txt"
        big.write_text("党" * (2**20), encoding="utf-8")  # 3 MB of UTF-8, over the 1 MB limit
        with pytest.raises(ValueError, match="maximum file size"):  # the server's limit, checked before sending
            _upload(client, big)
    from bot.service import Service

    outcome = Service(settings, searcher=searcher).upload([(big, "超大.txt")])[0]
    assert outcome.status == "rejected" and "文件过大" in outcome.message and "1 MB" in outcome.message
    assert not (settings.kb_dir / "uploads" / "超大.txt").exists()


def test_unsafe_names_are_stored_safely(tiny, tmp_path):
    from bot.service import Service

    settings, searcher = tiny()
    service = Service(settings, searcher=searcher)
    src = note(tmp_path, "x.txt", f"安全文件名测试\n{UNIQUE}\n")
    long_name = "很长的文件名" * 40 + ".txt"
    outcomes = service.upload([(src, "../../etc/passwd.txt"), (src, "con\x00.txt"), (src, long_name)])
    stored = sorted(p.name for p in (settings.kb_dir / "uploads").iterdir())
    assert [o.stored_as for o in outcomes[:2]] == ["passwd.txt", "_con.txt"]
    assert all(len(name.encode("utf-8")) <= 150 for name in stored) and len(stored) == 3
    assert not (settings.kb_dir.parent / "etc").exists()
    assert outcomes[0].status == "added" and {o.status for o in outcomes[1:]} == {"duplicate"}


def test_password_guards_changes(tiny, tmp_path):
    from gradio_client.exceptions import AppError

    settings, searcher = tiny(admin_password=PASSWORD)
    src = note(tmp_path, "口令.txt", f"口令测试\n{UNIQUE}\n")
    with serve(settings, searcher) as (url, client):
        import httpx

        before = client.predict(api_name="/documents")
        assert "密码错误" in client.predict("wrong", api_name="/unlock")[0]
        with pytest.raises(httpx.HTTPStatusError, match="403"):  # refused by the upload route, before storing
            _upload(client, src, password="wrong")
        assert not (settings.kb_dir / "uploads").exists()
        assert client.predict(api_name="/documents") == before
        assert "密码正确" in client.predict(PASSWORD, api_name="/unlock")[0]
        with pytest.raises(PermissionDenied, match="密码错误"):
            _upload(client, src, password="wrong")
        assert not (settings.kb_dir / "uploads").exists()
        assert _upload(client, src, password=PASSWORD)[0]["status"] == "added"
        report = client.predict("uploads", PASSWORD, api_name="/reingest")
        assert report["ok"] and report["report"]["unchanged"] == 1
        with pytest.raises(AppError, match="密码错误"):
            client.predict("口令测试", "", api_name="/delete")
        assert client.predict("口令测试", PASSWORD, api_name="/delete")["ok"]


def test_non_loopback_bind_without_password_is_read_only(tiny, tmp_path):
    from bot.app import build_app
    from bot.service import Service

    settings, searcher = tiny()
    service = Service(settings, host="0.0.0.0", searcher=searcher)
    with pytest.raises(PermissionDenied, match="只读"):
        service.upload([(note(tmp_path, "a.txt", UNIQUE), "a.txt")])
    with pytest.raises(PermissionDenied):
        service.delete(service.documents()[0]["doc_id"])
    assert not (settings.kb_dir / "uploads").exists()
    demo = build_app(settings, service=service)
    notes = [b.value for b in demo.blocks.values() if type(b).__name__ == "Markdown" and b.value]
    assert any("只读模式" in n for n in notes)


def test_script_in_a_passage_is_shown_as_text(tiny, tmp_path):
    settings, searcher = tiny()
    src = note(tmp_path, "脚本.txt", f"脚本测试文件\n青松夜读活动注意事项：{SCRIPT}，{UNIQUE}\n")
    with serve(settings, searcher) as (url, client):
        assert _upload(client, src)[0]["status"] == "added"
        chat, cards = client.predict("青松夜读活动注意事项", [], "", "", api_name="/chat")[:2]
        assert "&lt;script&gt;" in cards and "<script" not in cards
        assert "<script" not in json.dumps(chat, ensure_ascii=False)


def test_eval_report_is_served(tiny, tmp_path):
    settings, searcher = tiny()
    run = tmp_path / "reports" / "2026-05-01-dev"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# 评测报告\n\nhit@5 = 0.9\n\n![hit@k](hit_at_k.png)\n", encoding="utf-8")
    (run / "metrics.json").write_text('{"retrieval": {"hit@5": 0.9}}', encoding="utf-8")
    (run / "hit_at_k.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "reports" / "LATEST").write_text("2026-05-01-dev\n", encoding="utf-8")
    with serve(settings, searcher, reports_dir=tmp_path / "reports") as (url, client):
        report = client.predict(api_name="/eval_report")
    assert report["found"] and report["charts"] == ["hit_at_k.png"] and "hit@5 = 0.9" in report["markdown"]
    assert report["metrics"] == {"retrieval": {"hit@5": 0.9}}


def test_an_empty_knowledge_base_says_what_to_do_then_accepts_uploads(tmp_settings, embedder, tmp_path):
    from bot.app import build_app
    from bot.handlers import doc_choices
    from bot.service import Service

    empty = Searcher(KnowledgeBase.open(tmp_settings, embedder=embedder))
    service = Service(tmp_settings, searcher=empty)
    build_app(tmp_settings, service=service)
    assert service.documents() == [] and doc_choices(service.documents()) == [("全部文档", "")]
    from kb.errors import KnowledgeBaseEmpty

    with pytest.raises(KnowledgeBaseEmpty, match="djkb ingest"):
        service.ask("预备期多长？")
    outcome = service.upload([(note(tmp_path, "第一篇.txt", f"第一篇\n{UNIQUE}\n"), "第一篇.txt")])[0]
    assert outcome.status == "added"
    assert "第三个周四" in service.ask("青松夜读活动什么时候开展？").answer


def test_a_busy_knowledge_base_leaves_uploads_untouched(tiny, tmp_path):
    from bot.service import Service
    from kb.errors import KnowledgeBaseBusy

    settings, searcher = tiny()
    service = Service(settings, searcher=searcher)
    before = service.documents()
    with searcher.kb.catalog.write_lock(), pytest.raises(KnowledgeBaseBusy, match="稍后再试"):
        service.upload([(note(tmp_path, "忙.txt", f"忙碌测试\n{UNIQUE}\n"), "忙.txt")])
    assert list((settings.kb_dir / "uploads").iterdir()) == [] and service.documents() == before
