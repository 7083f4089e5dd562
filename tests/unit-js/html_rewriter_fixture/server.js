// The project of tests/unit-js/html_rewriter.test.mjs: each GET /parties/main/<room>/<case> runs
// one HTMLRewriter case in the room and answers with its result as JSON ({ body, seen } or
// { error: "Name: message" }), so that the same cases run on partyd and on `partykit dev`.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function rewrite(html, build) {
  const seen = [];
  const rewriter = build(new HTMLRewriter(), seen);
  const response = rewriter.transform(
    new Response(html, { headers: { "content-type": "text/html", "x-kept": "yes" } }),
  );
  return { body: await response.text(), seen, kept: response.headers.get("x-kept") };
}

async function errorOf(f) {
  try {
    await f();
    return null;
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

const cases = {
  // Element handlers: tag name, attributes (read, iterate, set, remove), content edits.
  async elements() {
    return rewrite('<div id="a" class="c" data-x="1"><span>in</span></div><img src="x.png">', (r, seen) =>
      r
        .on("div", {
          element(el) {
            seen.push(el.tagName, el.getAttribute("id"), el.hasAttribute("class"), el.hasAttribute("nope"));
            seen.push([...el.attributes].map(([k, v]) => `${k}=${v}`).join(","));
            el.setAttribute("id", "b");
            el.removeAttribute("data-x");
          },
        })
        .on("span", {
          element(el) {
            el.setInnerContent("<em>new</em>", { html: true });
          },
        })
        .on("img", {
          element(el) {
            seen.push(el.getAttribute("src"), el.removed);
            el.setAttribute("alt", 'a "quoted" <alt>');
          },
        }),
    );
  },
  // before/after/prepend/append/replace/remove, as text (escaped) and as HTML.
  async content() {
    return rewrite("<p>one</p><p>two</p><i>three</i><b>four</b><u>five</u>", (r) =>
      r
        .on("p", {
          element(el) {
            el.before("<hr>", { html: true });
            el.after("<after>");
            el.prepend("[");
            el.append("]");
          },
        })
        .on("i", {
          element(el) {
            el.replace("<s>replaced</s>", { html: true });
          },
        })
        .on("b", {
          element(el) {
            el.remove();
          },
        })
        .on("u", {
          element(el) {
            el.removeAndKeepContent();
          },
        }),
    );
  },
  // Text chunks and comments, and the document handlers (doctype, end).
  async textAndComments() {
    return rewrite("<!DOCTYPE html><p>hello <!-- c1 -->world</p><!-- c2 -->", (r, seen) =>
      r
        .on("p", {
          text(t) {
            if (t.text) seen.push(`text:${t.text}`);
            if (t.text === "world") t.replace("WORLD");
          },
          comments(c) {
            seen.push(`comment:${c.text}`);
            c.text = " changed ";
          },
        })
        .onDocument({
          doctype(d) {
            seen.push(`doctype:${d.name}`);
          },
          comments(c) {
            if (c.text === " c2 ") c.remove();
          },
          end(end) {
            end.append("<!-- end -->", { html: true });
          },
        }),
    );
  },
  // Async handlers, and an end-tag handler; every element waits, in document order.
  async asyncHandlers() {
    return rewrite("<ul><li>1</li><li>2</li><li>3</li></ul>", (r, seen) =>
      r.on("li", {
        async element(el) {
          await sleep(5);
          seen.push("li");
          el.setAttribute("data-waited", "yes");
          el.onEndTag(async (end) => {
            await sleep(1);
            end.after("!");
          });
        },
      }),
    );
  },
  // Several transforms with async handlers at once (asyncify holds one suspended call at a time).
  async concurrent() {
    const one = (i) =>
      new HTMLRewriter()
        .on("p", {
          async element(el) {
            await sleep(3 * (4 - i));
            el.setInnerContent(`p${i}`);
          },
        })
        .transform(new Response("<p>a</p><p>b</p>"))
        .text();
    return { bodies: await Promise.all([0, 1, 2, 3].map(one)) };
  },
  // A handler that throws, one that rejects: the body's read fails with that error, and the next
  // transform works.
  async throwing() {
    const sync = await errorOf(() =>
      new HTMLRewriter()
        .on("p", {
          element() {
            throw new RangeError("sync handler");
          },
        })
        .transform(new Response("<p>a</p>"))
        .text(),
    );
    const rejected = await errorOf(() =>
      new HTMLRewriter()
        .on("p", {
          async element() {
            await sleep(1);
            throw new TypeError("async handler");
          },
        })
        .transform(new Response("<p>a</p><p>b</p>"))
        .text(),
    );
    const after = await rewrite("<p>a</p>", (r) =>
      r.on("p", {
        async element(el) {
          await sleep(1);
          el.setInnerContent("fine");
        },
      }),
    );
    return { sync, rejected, after: after.body };
  },
  // Bad input: a selector, a non-Response, malformed HTML.
  async badInput() {
    return {
      selector: await errorOf(() => new HTMLRewriter().on("p[", {})),
      notResponse: await errorOf(() => new HTMLRewriter().transform("<p>x</p>")),
      malformed: (
        await rewrite("<div><p>x<div>y</span></b>z</p>&bogus; <<>> <a href='1>q", (r) =>
          r.on("p", {
            element(el) {
              el.setAttribute("seen", "1");
            },
          }),
        )
      ).body,
    };
  },
  // A handler that never returns (partyd stops it at --cpu-limit): while a second transform waits
  // for the WebAssembly instance's lock. Run by the partyd-only test.
  async spin() {
    const waiting = new HTMLRewriter()
      .on("p", {
        async element(el) {
          await sleep(50);
          el.setInnerContent("late");
        },
      })
      .transform(new Response("<p>x</p>"))
      .text();
    waiting.catch(() => {});
    return rewrite("<p>x</p>", (r) =>
      r.on("p", {
        element() {
          for (;;);
        },
      }),
    );
  },
  // A body that arrives in pieces (an element split across chunks) streams out rewritten.
  async streamed() {
    const parts = ["<p cla", 'ss="x">he', "llo</p><p>", "two</p>"];
    const body = new ReadableStream({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const response = new HTMLRewriter()
      .on("p.x", {
        element(el) {
          el.setAttribute("class", "y");
        },
      })
      .transform(new Response(body));
    return { body: await response.text() };
  },
};

export default class Server {
  async onRequest(req) {
    const which = new URL(req.url).pathname.split("/")[4] ?? "";
    const run = cases[which];
    if (!run) return new Response(`no case ${which}`, { status: 404 });
    try {
      return Response.json(await run());
    } catch (e) {
      return Response.json({ error: `${e.name}: ${e.message}` });
    }
  }
}
