"""Small documents made by the tests: regulations with 章/条 and speeches with 一、 headings."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kb.grammar import article_label, int_to_cn

TOPICS = ["学习制度", "组织生活", "党费收缴", "教育培训", "监督检查", "档案管理", "作风建设", "纪律要求"]


def regulation_text(name: str, articles: int = 12, seed: int = 0) -> str:
    """Return a regulation ``name`` with chapters of four articles each, every article distinct."""
    lines = [name, "（2020年1月1日某某委员会发布）"]
    for n in range(1, articles + 1):
        if n % 4 == 1:
            lines.append(f"第{int_to_cn(n // 4 + 1)}章 {TOPICS[(n // 4 + seed) % len(TOPICS)]}")
        topic = TOPICS[(n + seed) % len(TOPICS)]
        lines.append(f"{article_label(n)} {name}关于{topic}的第{n}项要求：各级组织应当每{n + seed}个月开展一次"
                     f"{topic}工作，编号{seed:03d}-{n:03d}。")
    return "\n".join(lines) + "\n"


def speech_text(title: str, seed: int = 0) -> str:
    """Return a short speech with two 一、 sections."""
    body = []
    for i, head in enumerate(["一、提高政治站位，抓好理论武装", "二、压实工作责任，推动任务落实"]):
        body.append(head)
        for j in range(3):
            body.append(f"同志们，第{seed}篇讲话第{i + 1}部分第{j + 1}段：我们要把{TOPICS[(i + j + seed) % 8]}"
                        "作为重要任务，持之以恒抓紧抓实，确保各项部署落到实处。" * 2)
    return title + "\n" + "\n".join(body) + "\n"


def write_corpus(folder: Path, regulations: int = 3, speeches: int = 2) -> list[Path]:
    """Write a small corpus into ``folder``; return the file paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(regulations):
        p = folder / f"测试条例{int_to_cn(i + 1)}.txt"
        p.write_text(regulation_text(f"测试工作条例{int_to_cn(i + 1)}", seed=i), encoding="utf-8")
        paths.append(p)
    for i in range(speeches):
        p = folder / f"2024-0{i + 1}-01_测试讲话{i + 1}.txt"
        p.write_text(speech_text(f"在测试会议上的讲话{i + 1}", seed=i), encoding="utf-8")
        paths.append(p)
    return paths


def edition_text(title: str, revision: str, articles: list[str]) -> str:
    """Return a regulation whose articles are ``articles`` (bodies without labels), numbered from 第一条."""
    lines = [title, revision, "第一章 总则"]
    for n, body in enumerate(articles, 1):
        lines.append(f"{article_label(n)} {body}")
    return "\n".join(lines) + "\n"


def wait_until(reached: Callable[[], bool], proc: subprocess.Popen, what: str, timeout: float = 600) -> None:
    """Poll ``reached`` until it holds; fail if ``proc`` ends first or ``timeout`` seconds pass (then kill it)."""
    start = time.time()
    while time.time() - start < timeout:
        if reached():
            return
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise AssertionError(f"{what} ended before the kill point: {err}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{what} did not reach the kill point in {timeout:.0f} s")
