"""The web app in Debian's Chromium through Playwright: asking with citation cards, uploading through the page."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from test_app import PASSWORD, SCRIPT, UNIQUE, note, serve, tiny, tiny_template  # noqa: F401  (fixtures)

# Gradio's queue statistics use pandas options that pandas 3 deprecates; nothing of ours.
pytestmark = [pytest.mark.browser, pytest.mark.corpus,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium is not installed at /usr/bin/chromium (run `make system-deps`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def corpus_url(corpus_settings, searcher, tmp_path_factory):
    settings = corpus_settings.with_(admin_password=PASSWORD)
    with serve(settings, searcher, tmp_path_factory.mktemp("reports")) as (url, _):
        yield url


def ask(page, question: str):
    """Type a question, send it and return the locator of the first citation card once it shows."""
    from playwright.sync_api import expect

    page.locator("#djkb-question textarea").fill(question)
    page.locator("#djkb-ask").click()
    card = page.locator("#djkb-cards .djkb-card").first
    expect(card).to_be_visible()
    return card


def test_ask_shows_the_answer_and_its_citation_card(page, corpus_url, artifacts):
    from playwright.sync_api import expect

    page.goto(corpus_url)
    card = ask(page, "预备党员的预备期是多长时间？")
    expect(page.locator("#djkb-chat")).to_contain_text("预备期为一年")
    expect(card).to_contain_text("《中国共产党章程》")
    expect(card).to_contain_text("第七条")
    expect(card.locator("mark").first).to_be_visible()
    context = card.locator("details.djkb-ctx")
    expect(context.locator(".djkb-ctx-body")).to_be_hidden()
    context.locator("summary").click()
    expect(context.locator(".djkb-ctx-body")).to_be_visible()
    expect(context.locator(".djkb-here")).to_contain_text("预备党员的预备期为一年")
    page.screenshot(path=str(artifacts / "browser_ask.png"), full_page=True)


def test_refusal_shows_possibly_related_passages(page, corpus_url, artifacts):
    from playwright.sync_api import expect

    page.goto(corpus_url)
    ask(page, "怎样用Python写一个快速排序？")
    expect(page.locator("#djkb-cards")).to_contain_text("知识库中没有找到相关依据")
    expect(page.locator("#djkb-cards .djkb-badge").first).to_have_text("可能相关")
    page.screenshot(path=str(artifacts / "browser_refusal.png"), full_page=True)


def test_study_tab_generates_materials_and_offers_only_the_current_topics_files(page, corpus_url, artifacts):
    from playwright.sync_api import expect

    page.goto(corpus_url)
    page.get_by_role("tab", name="学习材料").click()
    page.locator("#djkb-topic textarea").fill("民主生活会")
    page.locator("#djkb-study").click()
    view = page.locator("#djkb-study-view")
    expect(view).to_contain_text("要点提纲：民主生活会")
    expect(view).to_contain_text("练习题")
    expect(view.locator("h3").first).to_contain_text("《")
    page.locator("#djkb-export").click()
    for box, suffix in (("#djkb-docx-file", ".docx"), ("#djkb-md-file", ".md"), ("#djkb-xlsx-file", ".xlsx")):
        link = page.locator(f"{box} a").first
        expect(link).to_have_attribute("href", re.compile(re.escape(suffix) + "$"))
        assert page.request.get(link.get_attribute("href")).ok
    expect(page.locator("#djkb-docx-file")).to_contain_text("学习材料-民主生活会")
    page.screenshot(path=str(artifacts / "browser_study.png"), full_page=True)

    page.locator("#djkb-topic textarea").fill("发展党员")
    page.locator("#djkb-study").click()
    expect(view).to_contain_text("要点提纲：发展党员")
    for box in ("#djkb-docx-file", "#djkb-md-file", "#djkb-xlsx-file"):
        expect(page.locator(f"{box} a")).to_have_count(0)  # the previous topic's files are gone
    page.locator("#djkb-export").click()
    expect(page.locator("#djkb-docx-file")).to_contain_text("学习材料-发展党员")
    for box in ("#djkb-docx-file", "#djkb-md-file", "#djkb-xlsx-file"):
        expect(page.locator(box)).not_to_contain_text("民主生活会")


def test_upload_through_the_page_then_ask(page, tiny, tmp_path, artifacts):
    from playwright.sync_api import expect

    settings, searcher = tiny()
    src = note(tmp_path, "青松夜读制度.txt", f"青松夜读制度\n{UNIQUE}\n注意：{SCRIPT}\n")
    with serve(settings, searcher) as (url, _):
        page.goto(url)
        page.get_by_role("tab", name="知识库").click()
        page.locator("#djkb-files input[type=file]").set_input_files(str(src))
        expect(page.locator("#djkb-files")).to_contain_text("青松夜读制度.txt")
        page.locator("#djkb-upload").click()
        expect(page.locator("#djkb-kb-status")).to_contain_text("已导入：《青松夜读制度》")
        expect(page.locator("#djkb-docs")).to_contain_text("青松夜读制度")
        page.screenshot(path=str(artifacts / "browser_upload.png"), full_page=True)

        page.get_by_role("tab", name="问答").click()
        card = ask(page, "青松夜读活动什么时候开展？")
        expect(page.locator("#djkb-chat")).to_contain_text("第三个周四")
        expect(card).to_contain_text("《青松夜读制度》")
        page.locator("#djkb-question textarea").fill("青松夜读注意什么？")
        page.locator("#djkb-ask").click()
        expect(page.locator("#djkb-cards")).to_contain_text("<script>")
        assert page.evaluate("() => window.__djkb_pwned") is None
        page.screenshot(path=str(artifacts / "browser_upload_ask.png"), full_page=True)
        assert (settings.kb_dir / "uploads" / "青松夜读制度.txt").is_file()


def test_wrong_password_in_the_page_is_refused(page, corpus_url, artifacts):
    from playwright.sync_api import expect

    page.goto(corpus_url)
    page.get_by_role("tab", name="知识库").click()
    expect(page.locator("#djkb-access")).to_contain_text("需要输入管理员密码")
    page.locator("#djkb-password input").fill("wrong")
    page.locator("#djkb-reingest").click()
    expect(page.locator("#djkb-kb-status")).to_contain_text("【失败】管理员密码错误，知识库未作任何修改。")
    expect(page.locator("#djkb-docs")).to_contain_text("中国共产党章程")
    expect(page.locator("#djkb-docs")).to_be_visible()
    page.screenshot(path=str(artifacts / "browser_password.png"), full_page=False)


def test_eval_tab_shows_the_latest_report_and_its_charts(page, tiny, tmp_path, artifacts):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from playwright.sync_api import expect

    settings, searcher = tiny()
    run = tmp_path / "reports" / "2026-05-01-dev"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# 评测报告\n\n| 指标 | 数值 |\n|---|---|\n| hit@5 | 0.90 |\n\n![hit@k](hit_at_k.png)\n",
                                   encoding="utf-8")
    (run / "metrics.json").write_text('{"hit@5": 0.9}', encoding="utf-8")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 3, 5, 10], [0.6, 0.8, 0.9, 0.95])
    fig.savefig(run / "hit_at_k.png")
    plt.close(fig)
    (tmp_path / "reports" / "LATEST").write_text("2026-05-01-dev\n", encoding="utf-8")
    with serve(settings, searcher, reports_dir=tmp_path / "reports") as (url, _):
        page.goto(url)
        page.get_by_role("tab", name="评测").click()
        expect(page.locator("#djkb-eval")).to_contain_text("评测报告")
        expect(page.locator("#djkb-eval table")).to_contain_text("hit@5")
        image = page.locator("#djkb-eval img").first
        expect(image).to_be_visible()
        assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0
        page.screenshot(path=str(artifacts / "browser_eval.png"), full_page=True)
