"""The web page in a real browser (Debian's chromium, driven by playwright) against a real local
server (tools/localserver.py: chalice local --stage local, worker processes, the local models).

One library is built up test by test, as a person would: sign in, upload three photos and watch
them get indexed, search by a label and by a word of text, open a photo and show its boxes,
name a person and find them by that name, delete a photo; then another user's session sees none
of it.  So the tests run in file order, as one story: a test picked alone (`-k`) finds the
library it expects missing.  Every page is checked for script errors and Content-Security-Policy
violations.

Screenshots of each screen go to $SCREENSHOTS_DIR when it is set (the README's are made with
SCREENSHOTS_DIR=docs/screenshots), else to the test's temporary folder.
"""
import os
import subprocess
import sys
import time

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.support import photos
from tests.test_local_stack import LocalStack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
PASSWORD = {"alice": "correct horse battery", "bob": "bob's own long password"}
HOSTILE = "<img src=x onerror=alert(1)>.jpg"      # a file name that must show as text
DONE = ("indexed", "unsupported", "failed")


def add_user(stack, name, password):
    """./dev user add NAME, as a person runs it (the password on standard input)."""
    run = subprocess.run([sys.executable, "-m", "chalicelib.accounts", "add", name, "--password-stdin"], cwd=ROOT,
                         input=password + "\n", capture_output=True, text=True, env=dict(os.environ, **stack.env),
                         timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    stack = LocalStack(tmp_path_factory.mktemp("web"))
    stack.env["LOCAL_ACCOUNTS_PATH"] = os.path.join(stack.data, "accounts.sqlite3")
    stack.start()
    for name, password in PASSWORD.items():
        add_user(stack, name, password)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("SCREENSHOTS_DIR") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


class Tab:
    """A page plus what went wrong in it: script errors, CSP violations, dialogs (alert())."""

    def __init__(self, browser, base, **options):
        self.context = browser.new_context(**dict({"viewport": {"width": 1280, "height": 860}}, **options))
        self.page = self.context.new_page()
        self.base = base
        self.problems = []
        self.page.on("pageerror", lambda e: self.problems.append("script error: %s" % e))
        self.page.on("console", self._console)
        self.page.on("dialog", lambda d: (self.problems.append("dialog: %s" % d.message), d.dismiss()))

    def _console(self, message):
        # the API's expected refusals (a wrong password, another user's photo) are not problems
        expected = message.text.startswith("Failed to load resource: the server responded with a status of 40")
        if (message.type == "error" and not expected) or "Content Security Policy" in message.text:
            self.problems.append("console: %s" % message.text)

    def go(self, fragment=""):
        self.page.goto(self.base + "/" + fragment)
        # the view of this address on screen (or the sign-in form)
        self.until("['signin', location.hash].includes(document.querySelector('main').dataset.shown)")

    def until(self, script, timeout=90):
        """Poll a JavaScript expression until it is truthy (the page's CSP forbids eval, so
        playwright's wait_for_function cannot run in it; evaluate goes through the debugger)."""
        deadline = time.time() + timeout
        while True:
            value = self.page.evaluate(script)
            if value:
                return value
            assert time.time() < deadline, "timed out waiting for: %s" % script
            time.sleep(0.25)

    def sign_in(self, name, password=None):
        self.go()
        self.page.fill("#username", name)
        self.page.fill("#password", password or PASSWORD[name])
        self.page.click("form.signin button[type=submit]")

    def texts(self, selector):
        return self.page.locator(selector).all_inner_texts()

    def shot(self, folder, name):
        self.page.evaluate("document.activeElement && document.activeElement.blur()")
        self.page.screenshot(path=os.path.join(folder, name + ".png"))

    def close(self):
        self.context.close()
        assert self.problems == []


@pytest.fixture(scope="module")
def alice(browser, server):
    tab = Tab(browser, server.base)
    yield tab
    tab.close()


def test_the_page_is_served_with_a_strict_policy_and_caching(server):
    page = requests.get(server.base + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    assert "<script>" not in page.text and 'type="module" src="web/app.js?v=' in page.text
    version = page.text.split("web/app.js?v=")[1].split('"')[0]
    script = requests.get(server.base + "/web/app.js?v=" + version, timeout=10)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = requests.get(server.base + "/web/app.js?v=" + version, headers={"If-None-Match": script.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert requests.get(server.base + "/web/app.js?v=old", timeout=10).headers["Cache-Control"] == "no-cache"
    assert requests.get(server.base + "/web/../app.py", timeout=10).status_code in (403, 404)
    assert requests.get(server.base + "/web/index.html", timeout=10).status_code == 404


def test_sign_in_needs_the_right_password(alice, shots):
    alice.go()
    alice.page.wait_for_selector("form.signin")
    assert alice.page.evaluate("sessionStorage.getItem('token')") is None
    alice.shot(shots, "sign-in")
    alice.sign_in("alice", "not the password")
    alice.page.wait_for_selector("form.signin .error:has-text('wrong user name or password')")
    assert alice.page.evaluate("sessionStorage.getItem('token')") is None
    alice.sign_in("alice")
    alice.page.wait_for_selector(".empty:has-text('No photos yet')")   # an empty library says what to do
    assert alice.texts("#who-name") == ["alice"]


def test_upload_three_photos_and_watch_them_get_indexed(alice, shots):
    alice.page.click("nav a[data-view=upload]")
    files = [
        {"name": "chelsea.jpg", "mimeType": "image/jpeg", "buffer": photos.encode(photos.load("chelsea.png"))},
        {"name": "obama.jpg", "mimeType": "image/jpeg", "buffer": open(photos.path("obama.jpg"), "rb").read()},
        # the same person again, holding up a sign, under a name that is HTML
        {"name": HOSTILE, "mimeType": "image/jpeg",
         "buffer": photos.encode(photos.sign("OPEN 24 HOURS", background="obama2.jpg"))},
    ]
    alice.page.set_input_files("#files", files)
    alice.until("document.querySelectorAll('.upload').length === 3 && [...document.querySelectorAll('.upload')]"
                ".every(r => %r.includes(r.dataset.state))" % list(DONE), timeout=180)
    assert alice.texts(".upload .file") == ["chelsea.jpg", "obama.jpg", HOSTILE]
    assert alice.texts(".upload .state") == ["Indexed"] * 3
    assert alice.page.evaluate("[...document.querySelectorAll('.upload progress')].map(p => p.value)") == [100] * 3
    assert alice.page.locator("img[src=x]").count() == 0
    alice.until("document.querySelector('.summary').textContent === 'Your library: 3 photos, 3 indexed.'")
    alice.shot(shots, "upload")


def camera_photo():
    """A JPEG whose EXIF says camera, time and place."""
    from PIL import Image
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 18:30:05"
    exif.get_ifd(0x8825).update({1: "N", 2: (44.0, 51.0, 0.0), 3: "E", 4: (34.0, 58.0, 12.0)})
    return photos.encode(photos.load("coffee.png"), exif=exif)


def test_a_file_that_is_not_a_photo_says_why(alice):
    alice.page.set_input_files("#files", [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
    alice.until("document.querySelectorAll('.upload').length === 4 && "
                "document.querySelectorAll('.upload')[3].dataset.state === 'unsupported'")
    state, = alice.texts(".upload:nth-child(4) .state")
    assert state.startswith("Not supported: This file is not a picture")


def test_a_photo_shows_its_date_camera_and_place(alice):
    alice.page.set_input_files("#files", [{"name": "trip/coffee.jpg", "mimeType": "image/jpeg",
                                           "buffer": camera_photo()}])
    alice.until("document.querySelectorAll('.upload').length === 5 && "
                "document.querySelectorAll('.upload')[4].dataset.state === 'indexed'")
    alice.page.click(".upload:nth-child(5) a.file")           # each upload links to its photo
    alice.page.wait_for_selector("article.photo dl")
    facts = dict(zip(alice.texts(".details dt"), alice.texts(".details dd")))
    assert facts["Camera"] == "Canon EOS 5D"
    assert "2021" in facts["Taken"]
    assert facts["Place"].startswith("44.85000, 34.97000")
    alice.page.click("a:has-text('Photos near here')")
    alice.page.wait_for_selector(".tile")
    assert alice.texts(".tile .name") == ["coffee.jpg"]
    assert alice.page.input_value("#f-near") == "44.85000, 34.97000"
    alice.page.click("nav a[data-view=upload]")


def shown(tab):
    """Wait until the view of the current address has loaded (the page sets main's data-shown)."""
    tab.until("document.querySelector('main').dataset.shown === location.hash")


def search(tab, q, expect_tiles=True):
    tab.page.fill("#q", q)
    tab.page.press("#q", "Enter")
    tab.until("location.hash.includes('q=')")
    shown(tab)
    assert tab.page.locator(".tile").count() > 0 if expect_tiles else tab.page.locator(".empty").count() == 1


def test_search_by_a_label_and_by_a_word_of_text(alice, shots):
    alice.page.click("nav a[data-view=search]")
    search(alice, "cat")
    assert alice.texts(".tile .name") == ["chelsea.jpg"]
    why, = alice.texts(".tile .why")
    assert "Cat" in why
    search(alice, "photos of a kitty")          # a synonym, and filler words
    assert alice.texts(".tile .name") == ["chelsea.jpg"]
    why, = alice.texts(".tile .why")
    assert "kitty" in why and "Cat" in why
    assert alice.page.eval_on_selector("#sort", "s => s.value") == "relevance"     # words: best match first
    alice.shot(shots, "search-words")
    search(alice, "open")
    assert alice.texts(".tile .name") == [HOSTILE]       # shown as text, never as markup
    why, = alice.texts(".tile .why")
    assert "OPEN 24 HOURS" in why
    assert alice.page.locator("img[src=x]").count() == 0
    search(alice, "submarine", expect_tiles=False)
    assert "No photos match" in alice.texts(".empty h2")[0]
    alice.go("#/search")        # everything, newest first, with thumbnails and alt texts
    alice.page.wait_for_selector(".tile img")
    alice.until("document.querySelectorAll('.tile').length === 5")
    alice.until("[...document.querySelectorAll('.tile img')].every(i => i.complete)")
    shown = alice.page.evaluate("[...document.querySelectorAll('.tile img')].map(i => [i.alt, i.naturalWidth])")
    assert len(shown) == 4 and all(alt and width > 0 for alt, width in shown)    # 4 pictures + notes.txt
    alice.shot(shots, "search")
    listed = alice.texts(".tile .name")
    # pages of 2: the grid follows the API's cursor as the end of the grid comes into view
    alice.go("#/search?limit=2")
    alice.until("document.querySelectorAll('.tile').length === 5 && document.querySelector('.more').hidden")
    assert alice.texts(".tile .name") == listed


def test_one_photo_with_its_boxes_text_and_people(alice, shots):
    search(alice, "open")
    alice.page.click(".tile a")
    alice.page.wait_for_selector("article.photo h1")
    assert alice.texts("article.photo h1") == [HOSTILE]
    assert "OPEN 24 HOURS" in alice.texts(".details .text li")
    assert alice.page.locator(".box").count() == 0          # boxes only on demand
    alice.page.check("#show-faces")
    assert alice.page.locator(".box.face").count() >= 1
    box = alice.page.locator(".box.face").first.bounding_box()
    picture = alice.page.locator(".frame img").bounding_box()
    assert picture["x"] <= box["x"] and box["x"] + box["width"] <= picture["x"] + picture["width"] + 1
    alice.page.check("#show-labels")
    assert alice.page.locator(".box.label").count() >= 1
    alice.shot(shots, "photo")


def test_name_a_person_and_find_them_by_name(alice, shots):
    alice.page.click("nav a[data-view=people]")
    alice.page.wait_for_selector(".person a")
    alice.shot(shots, "people")
    alice.page.click(".person a")
    alice.page.wait_for_selector("#person-name")
    assert len(alice.texts(".face-card")) == 2              # the face in obama.jpg and in the sign photo
    alice.page.fill("#person-name", "Barack Obama")
    alice.page.click("form.inline button[type=submit]")
    alice.page.wait_for_selector("h1:has-text('Barack Obama')")
    alice.shot(shots, "person")
    alice.page.click("nav a[data-view=search]")
    search(alice, "obama")
    assert sorted(alice.texts(".tile .name")) == sorted(["obama.jpg", HOSTILE])
    assert "Barack Obama" in alice.texts(".summary")[0]


def test_delete_a_photo_after_confirming(alice):
    search(alice, "cat")
    alice.page.click(".tile a")
    alice.page.click("button:has-text('Delete photo')")
    alice.page.click("dialog button[value=cancel]")           # nothing happens without confirming
    assert alice.texts("article.photo h1") == ["chelsea.jpg"]
    alice.page.click("button:has-text('Delete photo')")
    alice.page.click("dialog button[value=delete]")
    alice.page.wait_for_selector("#q")
    search(alice, "cat", expect_tiles=False)


def test_another_user_sees_none_of_it(browser, server, alice):
    bob = Tab(browser, server.base)
    try:
        bob.sign_in("bob")
        bob.page.wait_for_selector(".empty:has-text('No photos yet')")
        search(bob, "obama", expect_tiles=False)
        bob.go("#/people")
        bob.page.wait_for_selector("h1:has-text('People')")
        assert bob.page.locator(".person").count() == 0
        search(alice, "open")
        photo_id = alice.page.get_attribute(".tile a", "href").split("/")[-1]
        bob.go("#/photo/" + photo_id)                            # a direct link to alice's photo
        bob.page.wait_for_selector("[role=alert]:has-text('No such photo')")
    finally:
        bob.close()


def test_fits_a_phone_and_works_with_the_keyboard(browser, server, shots):
    phone = Tab(browser, server.base, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                device_scale_factor=1)
    try:
        phone.sign_in("alice")
        phone.page.wait_for_selector(".tile img")
        assert phone.page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        phone.shot(shots, "phone")
        phone.go("#/upload")
        phone.page.wait_for_selector(".dropzone")
        assert phone.page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        # every control has a name a screen reader can say
        unnamed = phone.page.evaluate("""[...document.querySelectorAll('input, select, button')].filter(el =>
            !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()).length""")
        assert unnamed == 0
    finally:
        phone.close()
    keyboard = Tab(browser, server.base)
    try:
        keyboard.go()
        keyboard.page.wait_for_selector("#username:focus")          # the form is ready to type into
        keyboard.page.keyboard.type("alice")
        keyboard.page.keyboard.press("Tab")
        keyboard.page.keyboard.type(PASSWORD["alice"])
        keyboard.page.keyboard.press("Enter")
        keyboard.page.wait_for_selector("#q")
        keyboard.page.keyboard.type("open")                         # the search box has the focus
        keyboard.page.keyboard.press("Enter")
        keyboard.page.wait_for_selector(".tile a")
        for _ in range(40):                                          # Tab reaches the first result
            keyboard.page.keyboard.press("Tab")
            if keyboard.page.evaluate("document.activeElement.matches('.tile a')"):
                break
        keyboard.page.keyboard.press("Enter")
        keyboard.page.wait_for_selector("article.photo h1")
    finally:
        keyboard.close()


def test_correct_people_then_opt_out_of_face_recognition(alice):
    def person_page(name):
        alice.go("#/people")
        alice.page.click(".person a:has-text('%s')" % name)
        alice.page.wait_for_selector("h1:has-text('%s')" % name)

    def faces(count):
        alice.until("document.querySelectorAll('.face-card').length === %d" % count)

    person_page("Barack Obama")
    faces(2)
    alice.page.select_option(".face-card:nth-child(2) select", "new")      # move a face to a new person
    faces(1)
    alice.go("#/people")
    alice.until("document.querySelectorAll('.person').length === 2")
    assert sorted(alice.texts(".person .name")) == ["Barack Obama", "Unnamed"]
    person_page("Barack Obama")
    alice.page.select_option("#merge-from", label="Unnamed (1 photo)")     # the same person after all
    alice.page.click("button:has-text('Merge into this person')")
    faces(2)
    alice.page.click(".face-card:nth-child(1) button:has-text('Not this person')")
    faces(1)
    alice.go("#/people")
    alice.page.wait_for_selector(".summary:has-text('1 face not grouped yet')")
    alice.page.click("button:has-text('Turn face recognition off')")
    explanation = alice.texts("dialog p")[0]
    assert "deletes every face" in explanation and "Your photos, their labels and the text read in them stay" \
        in explanation
    alice.page.click("dialog button[value=off]")
    alice.page.wait_for_selector("button:has-text('Turn face recognition back on')")
    alice.go("#/search?q=obama")
    assert not [t for t in alice.texts(".summary") if "Barack Obama" in t]    # the name went with the faces
    alice.go("#/people")
    alice.page.click("button:has-text('Turn face recognition back on')")
    alice.page.wait_for_selector(".summary:has-text('No people yet')")


def test_text_read_in_a_photo_shows_as_text_never_as_markup(alice):
    """A sign that reads "<img src=x>", read by OCR, is shown as those characters, in the search
    grid's "why" and on the photo's page, and never becomes an element."""
    alice.page.click("nav a[data-view=upload]")
    alice.page.set_input_files("#files", [{"name": "markup-sign.jpg", "mimeType": "image/jpeg", "buffer": photos.encode(
        photos.sign("<img src=x>", background="coffee.png", size=48))}])
    alice.until("[...document.querySelectorAll('.upload')].some(r => r.querySelector('.file').textContent === "
                "'markup-sign.jpg' && r.dataset.state === 'indexed')", timeout=180)
    alice.page.click("nav a[data-view=search]")
    search(alice, "src")
    assert alice.texts(".tile .name") == ["markup-sign.jpg"]
    assert "<img src=x>" in alice.texts(".tile .why")[0]
    alice.page.click(".tile a")
    alice.page.wait_for_selector("article.photo h1")
    assert "<img src=x>" in alice.texts(".details .text li")
    assert alice.page.locator("img[src=x]").count() == 0


def test_sign_out_forgets_the_token(alice):
    alice.page.click("#sign-out")
    alice.page.wait_for_selector("form.signin")
    assert alice.page.evaluate("sessionStorage.getItem('token')") is None
    alice.go("#/search")
    alice.page.wait_for_selector("form.signin")


def test_sign_in_attempts_are_limited(server):
    """Last: it uses up this address's allowance.  5 failures for one user name, then 429 even
    with the right password; other user names from this address have their own count."""
    url = server.base + "/auth/signin"
    for _ in range(5):
        r = requests.post(url, json={"username": "bob", "password": "guess"}, timeout=30)
        assert r.status_code == 401 and r.json()["message"] == "wrong user name or password"
    r = requests.post(url, json={"username": "bob", "password": PASSWORD["bob"]}, timeout=30)
    assert r.status_code == 429 and 800 < int(r.headers["Retry-After"]) <= 901
    assert "token" not in r.json()
    r = requests.post(url, json={"username": "alice", "password": PASSWORD["alice"]}, timeout=30)
    assert r.status_code == 200 and r.json()["token"]
    # a token only ever comes with a password
    for body in ({"username": "alice"}, {"username": "alice", "password": ""}, {"username": "nobody", "password": "x"},
                 [], {"token": "x"}):
        r = requests.post(url, json=body, timeout=30)
        assert r.status_code in (400, 401) and "token" not in r.json()
