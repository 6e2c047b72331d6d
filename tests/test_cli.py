"""The djkb command line, in process through click's runner."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from bot.cli import cli
from fixtures import write_corpus


def run(*args, kb_dir=None):
    pre = ["--kb-dir", str(kb_dir)] if kb_dir else []
    return CliRunner().invoke(cli, [*pre, *map(str, args)], catch_exceptions=False)


def test_ingest_docs_remove_round_trip(tmp_path):
    write_corpus(tmp_path / "c", regulations=2, speeches=1)
    (tmp_path / "c" / "notes.xlsx").write_bytes(b"PK")
    result = run("ingest", tmp_path / "c", kb_dir=tmp_path / "kb")
    assert result.exit_code == 0
    assert "新增 3 篇" in result.output and "不支持的文件类型 .xlsx" in result.output
    docs = json.loads(run("docs", "--json", kb_dir=tmp_path / "kb").output)
    assert {d["doc_type"] for d in docs} == {"regulation", "speech"}
    reg = next(d for d in docs if d["title"] == "测试工作条例一")
    assert reg["articles"] == 12 and reg["audit"] == "完整" and reg["chunks"] == 13
    again = run("ingest", tmp_path / "c", kb_dir=tmp_path / "kb")
    assert "未变 3 篇" in again.output and "新增片段 0 个" in again.output
    assert "已删除：测试工作条例一" in run("remove", reg["doc_id"], kb_dir=tmp_path / "kb").output
    assert run("remove", "nope", kb_dir=tmp_path / "kb").exit_code == 1


def test_ingest_only_failures_exits_non_zero(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    result = run("ingest", tmp_path / "empty.txt", kb_dir=tmp_path / "kb")
    assert result.exit_code == 1 and "文件为空" in result.output


def test_search_on_an_empty_knowledge_base_says_what_to_do(tmp_path):
    result = run("search", "党员", kb_dir=tmp_path / "kb")
    assert result.exit_code == 1 and "djkb ingest" in result.output


def test_search_batch_json(small_settings, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "党章第十条"}\n{"id": 2, "question": "三会一课"}\n', encoding="utf-8")
    result = run("search", "--batch", batch, "--top-k", 3, "--json", kb_dir=small_settings.kb_dir)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 2]
    hit = lines[0]["hits"][0]
    assert set(hit) == {"rank", "score", "chunk_id", "text", "doc_title", "doc_type", "source", "heading_path", "article",
                        "edition", "cited_as"}
    assert hit["rank"] == 1 and hit["article"] == "第十条" and hit["heading_path"].endswith("第十条")
    assert len(lines[1]["hits"]) == 3


def test_search_json_in_a_fresh_process_writes_only_json(small_settings, tmp_path):
    """A new process loads the model: nothing it prints on the way (transformers' "Loading weights" bar) may reach
    the terminal of a script reading the JSON lines."""
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "三会一课"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bot", "--kb-dir", str(small_settings.kb_dir), "search", "--batch",
                           str(batch), "--top-k", "1", "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a"]


def test_ask_json_and_batch(small_settings, tmp_path):
    result = run("ask", "预备党员的预备期是多长时间？", "--json", kb_dir=small_settings.kb_dir)
    answer = json.loads(result.stdout)
    assert set(answer) >= {"query", "rewritten_query", "answer", "refused", "citations"}
    assert not answer["refused"] and "一年" in answer["answer"]
    assert set(answer["citations"][0]) == {"n", "chunk_id", "doc_title", "heading_path", "article", "text", "source",
                                           "edition", "cited_as"}
    assert answer["notices"] == []  # 党章 and 发展党员工作细则 are in force
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": 1, "question": "党员可以信仰宗教吗？"}\n{"id": 2, "question": "明天会下雨吗？"}\n',
                     encoding="utf-8")
    lines = [json.loads(x) for x in run("ask", "--batch", batch, "--json", kb_dir=small_settings.kb_dir).output.splitlines()]
    assert [x["id"] for x in lines] == [1, 2]
    assert not lines[0]["refused"] and lines[1]["refused"]
    follow = tmp_path / "f.jsonl"
    follow.write_text('{"question": "它的第二款呢？", "history": ["党章第十条"]}\n', encoding="utf-8")
    (line,) = [json.loads(x) for x in run("ask", "--batch", follow, "--json", kb_dir=small_settings.kb_dir).output.splitlines()]
    assert line["rewritten_query"] == "《中国共产党章程》第十条第二款", "the earlier turn's article is carried over"


def test_batch_file_errors_name_the_line(tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": 1, "question": "x"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--kb-dir", str(tmp_path / "kb"), "search", "--batch", str(batch)])
    assert result.exit_code == 2 and "第 2 行" in result.output
