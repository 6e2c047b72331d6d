"""Every label and message the app and the command line show, in one place (Chinese for users)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TITLE = "党建知识库"
INTRO = "离线检索与问答：每个回答都附有出处，可展开原文核对。"
EXAMPLES = ("党员多长时间不参加组织生活会被视为自行脱党？", "党员可以信仰宗教吗？", "党章第十条", "预备党员的预备期是多长时间？")

DOC_TYPE_LABELS = {"regulation": "党内法规", "speech": "讲话与学习材料", "other": "其他文件"}
DOC_TYPE_CHOICES = (("全部类型", ""),) + tuple((label, t) for t, label in DOC_TYPE_LABELS.items())
ALL_DOCS = "全部文档"
SOURCE_LABELS = {"uploads": "上传目录（uploads）", "corpus": "语料目录（DJKB_CORPUS）"}
DOC_HEADERS = ("文档ID", "标题", "类型", "片段", "条", "字数", "完整性检查", "来源文件", "导入时间")

OK = "【成功】"
FAILED = "【失败】"
SEARCHING = "正在检索…"
NO_EVIDENCE = "知识库中没有找到相关依据"
RELATED_TAIL = "以下段落可能相关，仅供参考，见右侧“可能相关”。"
STUDY_INTRO = ("输入学习主题，生成要点提纲（逐字摘自原文，注明出处，按条文排序）和练习题（单选、多选、判断、填空，附答案与依据），"
               "可导出 Markdown、Word 讲义和可导入考试系统的 .xlsx 题库。")
NO_OUTLINE = "知识库中没有找到与该主题相关的要求。"
CARDS_PLACEHOLDER = "提问后，这里显示回答所依据的原文段落。"
EMPTY_KB = "知识库为空。运行 `djkb ingest PATH` 导入文档。"
NO_REPORT = "还没有评测报告。请先运行 `djkb eval` 生成报告（写入 evals/reports/），然后点击“刷新”。"
NO_HITS = "没有找到相关段落。"

EMPTY_QUESTION = "请输入问题"
EMPTY_TOPIC = "请输入学习主题，例如“民主生活会”或“预备党员”"
NO_FILES = "请先选择要上传的文件"
NO_DOC_CHOSEN = "请先选择要删除的文档"
NO_DOC_CHOSEN_STATUS = "请先选择要设定状态的文档"
NO_EDITIONS_CHOSEN = "请选择要对照的两个版本（旧版本和新版本）"
COMPARE_INTRO = "逐条对照同一法规的两个版本（按内容对齐，不按条号）：新增、删除、修改（标出改动的字）、未变及序号变化。"
UNKNOWN_OUTCOME = "导入结果未知，请在文档列表中核对"


def doc_type_label(doc_type: str) -> str:
    """Return the Chinese name of a document type (the type itself when unknown)."""
    return DOC_TYPE_LABELS.get(doc_type, doc_type)


def rewritten(query: str) -> str:
    """Return the note shown above an answer whose question was rewritten from the conversation."""
    return f"（理解为：{query}）"


def notice(text: str) -> str:
    return f"（提示：{text}）"


def importing(name: str) -> str:
    return f"正在导入 {name}"


def unknown_doc(doc: str) -> str:
    return f"知识库中没有文档 {doc}（在“知识库”页或 /documents 查看文档及其 ID）"


def unknown_chunk(chunk_id: str) -> str:
    return f"知识库中没有片段 {chunk_id}"


def unknown_doc_type(doc_type: str, known: Sequence[str]) -> str:
    return f"未知文档类型 {doc_type!r}（可选：{', '.join(known)}）"


def unknown_source(source: str) -> str:
    return f"未知的导入来源 {source!r}（可选：uploads 上传目录，corpus 语料目录）"


def missing_folder(folder: Path, source: str) -> str:
    why = "（还没有上传过文件）" if source == "uploads" else "（请设置 DJKB_CORPUS）"
    return f"目录不存在：{folder}{why}"


def upload_outcome(status: str, title: str = "", same: str = "", reason: str = "") -> str:
    """Return the message for one uploaded file's outcome ('added', 'updated', 'unchanged', 'duplicate', 'failed')."""
    return {
        "added": f"已导入：《{title}》",
        "updated": f"已更新：《{title}》",
        "unchanged": f"内容未变（《{title}》已在知识库中）",
        "duplicate": f"与已有文件 {same} 内容相同，只保存一份",
        "failed": f"导入失败：{reason}",
    }[status]


def deleted(title: str, chunks: int, quote: bool = True) -> str:
    name = f"《{title}》" if quote else title
    return f"已删除：{name}（{chunks} 个片段）"


def ingest_summary(report, detailed: bool = False) -> str:
    """Return the Chinese summary of an IngestReport, failures listed per file.

    ``detailed`` (the command line) adds the chunk and embedding figures, repairs and duplicates.
    """
    head = (f"新增 {len(report.added)} 篇，更新 {len(report.updated)} 篇，未变 {len(report.unchanged)} 篇，"
            f"重复 {len(report.duplicates)} 篇，失败 {len(report.failures)} 篇；")
    if detailed:
        head += f"新增片段 {report.chunks_added} 个；用时 {report.seconds:.1f} 秒（嵌入 {report.embed_seconds:.1f} 秒）"
    else:
        head += f"用时 {report.seconds:.1f} 秒。"
    lines = [head]
    if detailed and report.recovered:
        lines.append(f"已修复上次中断留下的 {report.recovered} 处不一致。")
    if detailed:
        lines += [f"  重复：{path} 与 {same} 内容相同，只保存一份" for path, same in report.duplicates]
    lines += [f"- 失败：{p if detailed else Path(p).name}：{r}" for p, r in report.failures]
    return "\n".join(lines)


REPAIR_KINDS = (
    ("adopted", "从文档文件重建目录 {} 篇"),
    ("reembedded", "补嵌缺失向量 {} 个"),
    ("orphans", "删除无主向量 {} 个"),
    ("uncommitted", "清除未提交的文档文件 {} 个"),
    ("lost", "移除文本已丢失的文档 {} 篇"),
    ("collections", "删除旧代向量集合 {} 个"),
)


def repair_summary(reps) -> str:
    """Return what `djkb repair` changed, in one Chinese line (``Repairs`` counts by kind)."""
    done = [text.format(getattr(reps, kind)) for kind, text in REPAIR_KINDS if getattr(reps, kind)]
    line = "；".join(done) + "。" if done else "一切完好，无需修复。"
    if reps.unembedded:
        line += f"另有 {reps.unembedded} 个片段缺少向量且当前模型与知识库不同，请运行 `djkb reindex`。"
    return line


# ---- serving: limits, access, Chroma server, first start ---------------------------------------------------

INTERNAL_ERROR = "服务内部出错，本次请求未完成，知识库未受影响；请稍后重试，如反复出现请联系管理员查看服务日志。"
STORE_DOWN = "向量库（Chroma 服务）暂时无法连接"
STORE_DOWN_STALE = STORE_DOWN + "，知识库最近的修改尚未载入，本次回答依据修改前的内容；请联系管理员检查 Chroma 服务。"
RELOAD_FAILED = "知识库最近的修改暂时无法载入，本次回答依据修改前的内容；请联系管理员查看服务日志。"
STORE_DOWN_WRITE = STORE_DOWN + "，本次修改未执行，知识库未作任何修改；请在 Chroma 服务恢复后重试。"
UNLOCKED = "密码正确，可以上传、删除和重新导入（30 分钟内有效）。"
UPLOAD_LOCKED = "请先在“管理员密码”框输入密码并按回车，验证通过后再选择文件；文件未上传到服务器。"
UPLOAD_READ_ONLY = "当前为只读模式，不接受上传；文件未上传到服务器。"
UPLOAD_DROP = "拖放文件到此处"
UPLOAD_CLICK = "点击上传"
UPLOAD_OR = "或"


def too_long(what: str, n: int, limit: int) -> str:
    return f"{what}过长（{n} 个字符），最多 {limit} 个字符；请精简后再试。"


def not_an_int(name: str, value, lo: int, hi: int) -> str:
    shown = str(value)[:20]
    return f"参数 {name} 应为 {lo} 到 {hi} 之间的整数，收到的是“{shown}”。"


def out_of_range(name: str, value: int, lo: int, hi: int) -> str:
    return f"参数 {name} 应在 {lo} 到 {hi} 之间，收到的是 {value}。"


def too_many_files(n: int, limit: int) -> str:
    return f"一次最多上传 {limit} 个文件，本次选择了 {n} 个；请分批上传。"


def upload_too_large(limit_mb: int) -> str:
    return f"文件过大：单个文件不超过 {limit_mb} MB；文件未上传到服务器。"


def request_too_large(limit_mb: int, files: int) -> str:
    return f"上传内容过大：一次最多 {files} 个文件、每个不超过 {limit_mb} MB；文件未上传到服务器。"


def wait_after_wrong_password(seconds: float) -> str:
    return f"管理员密码错误次数过多，请 {max(1, round(seconds))} 秒后再试；知识库未作任何修改。"


def import_progress(done: int, total: int, name: str) -> str:
    tail = f"：{name}" if name else ""
    return f"正在导入 {done}/{total} …{tail}（可以先提问，回答只依据已导入的文档）"


def import_done(added: int, failed: int, seconds: float) -> str:
    extra = f"，{failed} 篇失败（见“知识库”页）" if failed else ""
    return f"导入完成：新增 {added} 篇{extra}，用时 {seconds:.0f} 秒。"


def import_failed(reason: str) -> str:
    return f"后台导入中断：{reason}。已导入的文档可以正常检索；修复后重启服务会从中断处继续。"


def still_importing(done: int, total: int) -> str:
    return f"知识库仍在导入（{done}/{total}），本回答只依据已导入的文档，稍后再问可能更完整。"


def port_in_use(host: str, port: int) -> str:
    return f"端口 {port} 已被占用（{host}:{port}）：请用 --port 换一个端口，或先停止占用它的程序。"


def cannot_bind(host: str, port: int, reason: str) -> str:
    return f"无法在 {host}:{port} 上启动服务：{reason}。请检查 --host 和 --port。"


def store_unreachable(url: str, seconds: int) -> str:
    return (f"无法连接 Chroma 服务 {url}（已等待 {seconds} 秒）：请先启动 `chroma run --path … --port …`，"
            "或检查 DJKB_CHROMA_URL；见 docs/deploy.md。")


def store_waiting(url: str, left: int) -> str:
    return f"Chroma 服务 {url} 尚未就绪，继续等待（最多再等 {left} 秒；按 Ctrl+C 退出）…"


def ssl_problem(what: str) -> str:
    return f"TLS 设置有误：{what}（--ssl-certfile 与 --ssl-keyfile 须同时给出，且文件可读）。"


# ---- editions -----------------------------------------------------------------------------------------------

STATUS_FILTER = "只检索现行有效版本"
STATUS_FILTER_INFO = "关闭后也检索已被修订、已废止的版本"


def _cn_date(iso: str) -> str:
    y, m, d = (int(x) for x in iso.split("-")[:3])
    return f"{y}年{m}月{d}日"


def superseded_notice(title: str, edition: str | None, kind: str, current: str | None, effective: str | None,
                      renumbered: bool) -> str:
    """Return 注意：知识库中的《X》为2018年修订版；该条例已于2023年修订，2024年1月1日起施行，条文序号有变化。"""
    have = f"为{edition}版" if edition else "不是现行版本"
    if current is None:
        return f"注意：知识库中的《{title}》{have}；该{kind}已被修订，请以现行版本为准。"
    tail = f"，{_cn_date(effective)}起施行" if effective and len(effective) >= 10 else ""
    tail += "，条文序号有变化" if renumbered else ""
    return f"注意：知识库中的《{title}》{have}；该{kind}已于{current}{tail}。"


def also_quoted(title: str, current: str, article: str) -> str:
    return f"知识库中另有{current}版{article}的引文，内容可能不同，可问“{current}的{title}{article}”。"


def repealed_notice(named: str) -> str:
    return f"注意：{named}已废止，以下内容仅供参考。"


def quotation_notice(named: str, article: str, source: str) -> str:
    return f"说明：知识库中没有{named}的全文，{article}引自《{source}》，仅为引文。"


def only_quoted_notice(named: str) -> str:
    return f"说明：知识库中没有{named}的全文，以下依据学习材料中对该版本条文的引用和解读。"


STATUS_CHOICES = (("现行有效", "现行有效"), ("已被修订", "已被修订"), ("已废止", "已废止"), ("未知", "未知"),
                  ("清除设定（自动判断）", ""))


def doc_label(row: dict) -> str:
    """Return how lists name a document: 《中国共产党纪律处分条例》（2018年修订）〔已被修订〕; a speech by its title."""
    if row.get("doc_type") == "speech" or not row.get("cited_as"):
        return row["title"]
    return row["cited_as"] + (f"〔{row['status']}〕" if row.get("status") else "")


def status_set(named: str, status: str | None) -> str:
    return f"已将{named}的状态设为“{status}”。" if status else f"已清除{named}的状态设定，恢复自动判断。"
