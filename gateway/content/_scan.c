/* The scans of gateway/content/html.py that cost the most on a newsletter, in C.

   Each function returns exactly what the regular expressions named in its comment return: html.py keeps
   those expressions as the reference (and uses them where this module is not built), and
   tests/test_scan.py checks that the two agree on random markup. The regex engine tries its pattern at
   every position and pays for each branch in Python's matcher; here a '<' (or a keyword) is found with
   memchr/memmem and each candidate is checked by hand, once.

   Input is any str (1, 2 or 4 bytes per character). Output is built in a buffer of the input's width: every
   function only drops characters or replaces a run by one character, so it never outgrows the input.
   "Word" and "space" are what the re module means by \w and \s for str patterns (Py_UNICODE_ISALNUM or
   '_', and Py_UNICODE_ISSPACE). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int kind;
    const char *data;
    Py_ssize_t n;
    int ascii;
} Text;

#define AT(t, i) PyUnicode_READ((t)->kind, (t)->data, (i))

static int
text_of(PyObject *obj, Text *t)
{
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "a str is needed, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    t->kind = PyUnicode_KIND(obj);
    t->data = PyUnicode_DATA(obj);
    t->n = PyUnicode_GET_LENGTH(obj);
    t->ascii = PyUnicode_IS_ASCII(obj);
    return 0;
}

static inline int
is_word(Py_UCS4 ch)
{
    if (ch < 128)
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
    return Py_UNICODE_ISALNUM(ch);
}

static inline int
is_space(Py_UCS4 ch)
{
    if (ch < 128)
        return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
    return Py_UNICODE_ISSPACE(ch);
}

static inline Py_UCS4
ascii_lower(Py_UCS4 ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
}

/* First `ch` at or after `from`, or -1. */
static Py_ssize_t
find_char(const Text *t, Py_UCS4 ch, Py_ssize_t from)
{
    if (from >= t->n)
        return -1;
    if (t->kind == PyUnicode_1BYTE_KIND) {
        const char *hit = memchr(t->data + from, (int)ch, (size_t)(t->n - from));
        return hit ? hit - t->data : -1;
    }
    for (Py_ssize_t i = from; i < t->n; i++)
        if (AT(t, i) == ch)
            return i;
    return -1;
}

/* Does t[i:i+len] equal the ASCII `word` (exactly, or ignoring ASCII case)? */
static int
has_word(const Text *t, Py_ssize_t i, const char *word, Py_ssize_t len, int ignore_case)
{
    if (i < 0 || i + len > t->n)
        return 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        Py_UCS4 ch = AT(t, i + k);
        if ((ignore_case ? ascii_lower(ch) : ch) != (Py_UCS4)(unsigned char)word[k])
            return 0;
    }
    return 1;
}

/* Letters from rarest to commonest in HTML mail (counted on newsletters); anything else is rarer still. */
static const char COMMONNESS[] = "qjzxvbkywfgmhcdunplrsoiate";

typedef struct {
    const char *chars;
    Py_ssize_t len;
    Py_ssize_t key;  /* the offset of its rarest character, which find_word looks for with memchr */
} Word;

static Word
word_of(const char *chars, Py_ssize_t len)
{
    Word w = {chars, len, 0};
    Py_ssize_t best = PY_SSIZE_T_MAX;
    for (Py_ssize_t k = 0; k < len; k++) {
        const char *seen = chars[k] ? strchr(COMMONNESS, chars[k]) : NULL;
        Py_ssize_t rank = seen ? seen - COMMONNESS : -1;
        if (rank < best) {
            best = rank;
            w.key = k;
        }
    }
    return w;
}

/* First occurrence of the ASCII word at or after `from`, or -1: each place its rarest character occurs is
   a candidate. */
static Py_ssize_t
find_word(const Text *t, const Word *w, Py_ssize_t from)
{
    Py_UCS4 key = (unsigned char)w->chars[w->key];
    for (Py_ssize_t i = find_char(t, key, from + w->key); i >= 0 && i - w->key + w->len <= t->n;
         i = find_char(t, key, i + 1))
        if (has_word(t, i - w->key, w->chars, w->len, 0))
            return i - w->key;
    return -1;
}

/* The str argument read into `t`, and a new empty list for what is found (NULL on an error). */
static PyObject *
results_for(PyObject *arg, Text *t)
{
    return text_of(arg, t) < 0 ? NULL : PyList_New(0);
}

static Py_ssize_t
skip_spaces(const Text *t, Py_ssize_t i)
{
    while (i < t->n && is_space(AT(t, i)))
        i++;
    return i;
}

/* -- output ------------------------------------------------------------------------------------------ */

/* Written into a new str of the input's length when the input is ASCII (then so is the output: the marks
   and line breaks written are ASCII too), shrunk at the end; otherwise into a buffer of the input's width,
   copied into a str of the narrowest width its characters allow. */
typedef struct {
    int kind;
    char *buf;
    Py_ssize_t len;
    PyObject *str;  /* the str written into, or NULL when buf is a buffer of our own */
} Out;

static int
out_open(Out *o, const Text *t)
{
    o->kind = t->kind;
    o->len = 0;
    o->str = NULL;
    if (t->ascii && t->n > 0) {
        o->str = PyUnicode_New(t->n, 127);
        if (o->str == NULL)
            return -1;
        o->buf = PyUnicode_DATA(o->str);
        return 0;
    }
    o->buf = PyMem_Malloc((size_t)(t->n > 0 ? t->n : 1) * (size_t)t->kind);
    if (o->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
out_discard(Out *o)
{
    if (o->str != NULL)
        Py_CLEAR(o->str);
    else
        PyMem_Free(o->buf);
}

static inline void
out_copy(Out *o, const Text *t, Py_ssize_t from, Py_ssize_t to)
{
    if (to > from) {
        memmove(o->buf + o->len * o->kind, t->data + from * t->kind, (size_t)(to - from) * (size_t)t->kind);
        o->len += to - from;
    }
}

static inline void
out_char(Out *o, Py_UCS4 ch)
{
    PyUnicode_WRITE(o->kind, o->buf, o->len, ch);
    o->len++;
}

/* The output as a str; the buffer is gone either way. */
static PyObject *
out_close(Out *o)
{
    if (o->str != NULL) {
        PyObject *s = o->str;
        o->str = NULL;
        if (o->len == 0) {
            Py_DECREF(s);
            return PyUnicode_New(0, 0);
        }
        if (PyUnicode_Resize(&s, o->len) < 0)
            return NULL;  /* s is released */
        return s;
    }
    PyObject *s = PyUnicode_FromKindAndData(o->kind, o->buf, o->len);
    PyMem_Free(o->buf);
    return s;
}

/* -- strip_tags: _ANY_TAG.sub("", _BLOCK.sub("\n", doc)) ---------------------------------------------- */

/* scan.py's BLOCK_NAMES by first letter (NULL-ended rows): a tag is compared with the few that could match. */
static const char *const BLOCK_NAMES[26][9] = {
    ['a' - 'a'] = {"address", "article", "aside"},
    ['b' - 'a'] = {"br", "blockquote"},
    ['c' - 'a'] = {"center"},
    ['d' - 'a'] = {"div", "dd", "dl", "dt"},
    ['f' - 'a'] = {"fieldset", "figcaption", "figure", "footer", "form"},
    ['h' - 'a'] = {"h1", "h2", "h3", "h4", "h5", "h6", "hr", "header"},
    ['l' - 'a'] = {"li"},
    ['m' - 'a'] = {"main"},
    ['n' - 'a'] = {"nav"},
    ['o' - 'a'] = {"ol"},
    ['p' - 'a'] = {"p", "pre"},
    ['s' - 'a'] = {"section"},
    ['t' - 'a'] = {"td", "tr", "table", "tbody", "th", "thead", "tfoot"},
    ['u' - 'a'] = {"ul"},
};
#define LONGEST_BLOCK_NAME 10

static int
is_block_name(const Text *t, Py_ssize_t from, Py_ssize_t to)
{
    char name[LONGEST_BLOCK_NAME + 1];
    Py_ssize_t len = to - from;
    for (Py_ssize_t k = 0; k < len; k++) {
        Py_UCS4 ch = AT(t, from + k);
        if (ch >= 128)
            return 0;  /* the names are ASCII: [dD][iI][vV] matches no other letter */
        name[k] = (char)ascii_lower(ch);
    }
    name[len] = '\0';
    if (name[0] < 'a' || name[0] > 'z')
        return 0;
    const char *const *candidates = BLOCK_NAMES[name[0] - 'a'];
    for (size_t i = 0; candidates[i] != NULL; i++)
        if (strcmp(candidates[i], name) == 0)
            return 1;
    return 0;
}

/* _BLOCK = </?(?:names)\b[^>]*>\s*  at t[p] == '<': the end of the match, or -1.
   The name followed by \b is the whole run of word characters after "</?": a name that is only a prefix
   of the run has a word character after it, and no boundary. */
static Py_ssize_t
block_tag_end(const Text *t, Py_ssize_t p)
{
    Py_ssize_t start = p + 1;
    if (start < t->n && AT(t, start) == '/')
        start++;
    Py_ssize_t end = start;
    while (end < t->n && end - start <= LONGEST_BLOCK_NAME && is_word(AT(t, end)))
        end++;
    if (end == start || end - start > LONGEST_BLOCK_NAME || !is_block_name(t, start, end))
        return -1;
    Py_ssize_t close = find_char(t, '>', end);
    return close < 0 ? -1 : skip_spaces(t, close + 1);
}

static PyObject *
strip_tags(PyObject *module, PyObject *arg)
{
    Text t;
    Out o;
    if (text_of(arg, &t) < 0 || out_open(&o, &t) < 0)
        return NULL;
    /* Pass 1, _BLOCK.sub("\n", ...): a block tag and the spaces after it become a line break. */
    Py_ssize_t copied = 0, p = find_char(&t, '<', 0);
    while (p >= 0) {
        Py_ssize_t end = block_tag_end(&t, p);
        if (end >= 0) {
            out_copy(&o, &t, copied, p);
            out_char(&o, '\n');
            copied = end;
            p = find_char(&t, '<', end);
        }
        else
            p = find_char(&t, '<', p + 1);
    }
    out_copy(&o, &t, copied, t.n);
    /* Pass 2, _ANY_TAG.sub("", ...) = <[^>]*(?:>|\Z), over pass 1's output, in place: every '<' up to the
       next '>' goes, or to the end when there is none. */
    Text mid = {o.kind, o.buf, o.len, t.ascii};
    o.len = 0;
    copied = 0;
    while ((p = find_char(&mid, '<', copied)) >= 0) {
        out_copy(&o, &mid, copied, p);
        Py_ssize_t close = find_char(&mid, '>', p + 1);
        copied = close < 0 ? mid.n : close + 1;
    }
    out_copy(&o, &mid, copied, mid.n);
    return out_close(&o);
}

/* -- anchors: _ANCHOR_HREF.split and _ANCHOR_CLOSE.sub ----------------------------------------------- */

#define OPEN_MARK 0x02
#define CLOSE_MARK 0x03

/* Where the next `quote` at or after `from` is, remembered: the searches only move forward. */
typedef struct {
    Py_UCS4 quote;
    Py_ssize_t searched_from, found;  /* found: -1 when there is none after searched_from */
} QuoteCache;

static Py_ssize_t
next_quote(const Text *t, QuoteCache *c, Py_ssize_t from)
{
    if (c->searched_from < 0 || from < c->searched_from || (c->found >= 0 && c->found < from)) {
        c->searched_from = from;
        c->found = find_char(t, c->quote, from);
    }
    return c->found;
}

typedef struct {
    Py_ssize_t end;               /* of the whole start tag */
    Py_ssize_t value, value_end;  /* the href's value; value < 0 for an anchor without one */
} Anchor;

/* _ANCHOR_HREF = <a\b(?:[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?[^>]*>  (IGNORECASE)
   at t[p] == '<'. The lazy [^>]*? tries each start k of "href" before the tag's first '>' in turn; the
   first k whose "href = value" is followed somewhere by a '>' wins, and the tag ends at that '>'. With
   none, the tag ends at its first '>'. Returns 0 when no anchor starts at p. */
static int
anchor_at(const Text *t, Py_ssize_t p, Py_ssize_t last_gt, QuoteCache *dq, QuoteCache *sq, Anchor *a)
{
    if (p + 1 >= t->n || ascii_lower(AT(t, p + 1)) != 'a' || (p + 2 < t->n && is_word(AT(t, p + 2))))
        return 0;
    Py_ssize_t first_gt = find_char(t, '>', p + 2);
    if (first_gt < 0)
        return 0;
    for (Py_ssize_t k = p + 3; k < first_gt; k++) {  /* at p + 2, \b fails: 'a' is a word character */
        if (ascii_lower(AT(t, k)) != 'h' || is_word(AT(t, k - 1)) || !has_word(t, k, "href", 4, 1))
            continue;
        Py_ssize_t j = skip_spaces(t, k + 4);
        if (j >= t->n || AT(t, j) != '=')
            continue;
        j = skip_spaces(t, j + 1);
        if (j >= t->n)
            continue;
        Py_UCS4 ch = AT(t, j);
        Py_ssize_t value = j + 1, value_end, after;
        if (ch == '"' || ch == '\'') {
            value_end = next_quote(t, ch == '"' ? dq : sq, value);
            if (value_end < 0)
                continue;
            after = value_end + 1;
        }
        else if (is_space(ch) || ch == '>')
            continue;
        else {
            value = j;
            value_end = j + 1;
            while (value_end < t->n) {
                Py_UCS4 c = AT(t, value_end);
                if (is_space(c) || c == '>' || c == '"' || c == '\'')
                    break;
                value_end++;
            }
            after = value_end;
        }
        if (after > last_gt)
            continue;  /* no '>' left for [^>]*> */
        a->end = find_char(t, '>', after) + 1;
        a->value = value;
        a->value_end = value_end;
        return 1;
    }
    a->end = first_gt + 1;
    a->value = a->value_end = -1;
    return 1;
}

/* _ANCHOR_CLOSE = </a\s*>  (IGNORECASE) at t[p] == '<': the end of the match, or -1. */
static Py_ssize_t
anchor_close_end(const Text *t, Py_ssize_t p)
{
    if (p + 2 >= t->n || AT(t, p + 1) != '/' || ascii_lower(AT(t, p + 2)) != 'a')
        return -1;
    Py_ssize_t j = skip_spaces(t, p + 3);
    return (j < t->n && AT(t, j) == '>') ? j + 1 : -1;
}

/* (markup with each anchor start tag as \x02 and each end tag as \x03, the start tags' raw hrefs in order,
   "" for an anchor without one), or (the markup as it is, []) when it has no anchor start tag. The end
   tags are sought only between start tags, as the substitution over the joined pieces finds them: a start
   tag's quoted href may hold a "</a>". */
static PyObject *
anchors(PyObject *module, PyObject *arg)
{
    Text t;
    Out o;
    if (text_of(arg, &t) < 0 || out_open(&o, &t) < 0)
        return NULL;
    PyObject *hrefs = PyList_New(0);
    if (hrefs == NULL) {
        out_discard(&o);
        return NULL;
    }
    Py_ssize_t last_gt = t.n - 1;
    while (last_gt >= 0 && AT(&t, last_gt) != '>')
        last_gt--;
    QuoteCache dq = {'"', -1, -1}, sq = {'\'', -1, -1};
    Py_ssize_t copied = 0, p = find_char(&t, '<', 0);
    while (p >= 0) {
        Anchor a;
        Py_ssize_t close;
        if (anchor_at(&t, p, last_gt, &dq, &sq, &a)) {
            PyObject *href = a.value < 0 ? PyUnicode_New(0, 0)
                : PyUnicode_Substring(arg, a.value, a.value_end);
            if (href == NULL || PyList_Append(hrefs, href) < 0) {
                Py_XDECREF(href);
                Py_DECREF(hrefs);
                out_discard(&o);
                return NULL;
            }
            Py_DECREF(href);
            out_copy(&o, &t, copied, p);
            out_char(&o, OPEN_MARK);
            copied = a.end;
        }
        else if ((close = anchor_close_end(&t, p)) >= 0) {
            out_copy(&o, &t, copied, p);
            out_char(&o, CLOSE_MARK);
            copied = close;
        }
        else {
            p = find_char(&t, '<', p + 1);
            continue;
        }
        p = find_char(&t, '<', copied);
    }
    if (PyList_GET_SIZE(hrefs) == 0) {  /* no anchor: the markup as it was, end tags and all */
        out_discard(&o);
        return Py_BuildValue("(ON)", arg, hrefs);
    }
    out_copy(&o, &t, copied, t.n);
    PyObject *marked = out_close(&o);
    if (marked == NULL) {
        Py_DECREF(hrefs);
        return NULL;
    }
    return Py_BuildValue("(NN)", marked, hrefs);
}

/* -- invisible_starts: _INVISIBLE_START.finditer ----------------------------------------------------- */

static const char *const INVISIBLE_NAMES[] = {
    "head", "script", "style", "template", "title", "svg", "object", "xml", "noembed",
};
#define INVISIBLE_COUNT (sizeof INVISIBLE_NAMES / sizeof INVISIBLE_NAMES[0])
static PyObject *invisible_name_objects[INVISIBLE_COUNT];
static Py_ssize_t invisible_name_lengths[INVISIBLE_COUNT];
static const char INVISIBLE_FIRST_LETTERS[] = "hstoxn";  /* a tag starting otherwise is none of them */

/* _INVISIBLE_START = <(?:!--|(head|script|...)(?![a-z0-9-]))  over a lower-cased document: a list of
   (start, end, name), name None for a comment. */
static PyObject *
invisible_starts(PyObject *module, PyObject *arg)
{
    Text t;
    PyObject *found = results_for(arg, &t);
    if (found == NULL)
        return NULL;
    for (Py_ssize_t p = find_char(&t, '<', 0); p >= 0; ) {
        Py_ssize_t end = -1;
        PyObject *name = Py_None;
        Py_UCS4 first = p + 1 < t.n ? AT(&t, p + 1) : 0;
        if (first == '!' && has_word(&t, p + 1, "!--", 3, 0))
            end = p + 4;
        else if (first != 0 && first < 128 && strchr(INVISIBLE_FIRST_LETTERS, (int)first)) {
            for (size_t i = 0; i < INVISIBLE_COUNT; i++) {
                Py_ssize_t len = invisible_name_lengths[i];
                if ((Py_UCS4)(unsigned char)INVISIBLE_NAMES[i][0] != first
                        || !has_word(&t, p + 1, INVISIBLE_NAMES[i], len, 0))
                    continue;
                Py_ssize_t after = p + 1 + len;
                Py_UCS4 ch = after < t.n ? AT(&t, after) : 0;
                if (after < t.n && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
                    continue;
                end = after;
                name = invisible_name_objects[i];
                break;
            }
        }
        if (end < 0) {
            p = find_char(&t, '<', p + 1);
            continue;
        }
        PyObject *hit = Py_BuildValue("(nnO)", p, end, name);
        if (hit == NULL || PyList_Append(found, hit) < 0) {
            Py_XDECREF(hit);
            Py_DECREF(found);
            return NULL;
        }
        Py_DECREF(hit);
        p = find_char(&t, '<', end);
    }
    return found;
}

/* -- hiding_starts: the _HIDING expressions' finditer ------------------------------------------------- */

/* $ without MULTILINE: the end, or just before a line break that ends the text. */
static inline int
at_dollar(const Text *t, Py_ssize_t i)
{
    return i == t->n || (i == t->n - 1 && AT(t, i) == '\n');
}

/* "name \s* : \s*" at i: the offset after it, or -1. */
static Py_ssize_t
after_property(const Text *t, Py_ssize_t i, const char *name, Py_ssize_t len)
{
    Py_ssize_t j = skip_spaces(t, i + len);
    return (j < t->n && AT(t, j) == ':') ? skip_spaces(t, j + 1) : -1;
}

/* display\s*:\s*none */
static int
display_none_at(const Text *t, Py_ssize_t i)
{
    Py_ssize_t j = after_property(t, i, "display", 7);
    return j >= 0 && has_word(t, j, "none", 4, 0);
}

/* visibility\s*:\s*hidden */
static int
visibility_hidden_at(const Text *t, Py_ssize_t i)
{
    Py_ssize_t j = after_property(t, i, "visibility", 10);
    return j >= 0 && has_word(t, j, "hidden", 6, 0);
}

/* opacity\s*:\s*0+(?:\.0+)?\s*(?:!important\s*)?(?:[;"']|$). No backtracking can help a failed tail: what
   a quantifier gives back is a '0', a space or a '.', and none of those ends the declaration (a line break
   given back before the end is matched by $ either way). */
static int
opacity_zero_at(const Text *t, Py_ssize_t i)
{
    Py_ssize_t j = after_property(t, i, "opacity", 7);
    if (j < 0 || j >= t->n || AT(t, j) != '0')
        return 0;
    while (j < t->n && AT(t, j) == '0')
        j++;
    if (j + 1 < t->n && AT(t, j) == '.' && AT(t, j + 1) == '0') {
        j++;
        while (j < t->n && AT(t, j) == '0')
            j++;
    }
    j = skip_spaces(t, j);
    if (has_word(t, j, "!important", 10, 0))
        j = skip_spaces(t, j + 10);
    if (at_dollar(t, j))
        return 1;
    Py_UCS4 ch = AT(t, j);
    return ch == ';' || ch == '"' || ch == '\'';
}

typedef struct {
    const char *word;
    int (*matches_at)(const Text *, Py_ssize_t);
} Declaration;

static const Declaration HIDING[] = {
    {"display", display_none_at},
    {"visibility", visibility_hidden_at},
    {"opacity", opacity_zero_at},
};

static int
compare_offsets(const void *a, const void *b)
{
    Py_ssize_t x = *(const Py_ssize_t *)a, y = *(const Py_ssize_t *)b;
    return (x > y) - (x < y);
}

/* The starts of every match of the three _HIDING expressions over a lower-cased document, in order. A match
   of one cannot start inside another match of the same expression (none holds its own first letter after
   its keyword), so finditer's matches are all the places each matches. */
static PyObject *
hiding_starts(PyObject *module, PyObject *arg)
{
    Text t;
    if (text_of(arg, &t) < 0)
        return NULL;
    Py_ssize_t *starts = NULL, count = 0, room = 0;
    for (size_t d = 0; d < sizeof HIDING / sizeof HIDING[0]; d++) {
        Word w = word_of(HIDING[d].word, (Py_ssize_t)strlen(HIDING[d].word));
        for (Py_ssize_t i = find_word(&t, &w, 0); i >= 0; i = find_word(&t, &w, i + 1)) {
            if (!HIDING[d].matches_at(&t, i))
                continue;
            if (count == room) {
                room = room ? room * 2 : 16;
                Py_ssize_t *grown = PyMem_Realloc(starts, (size_t)room * sizeof *starts);
                if (grown == NULL) {
                    PyMem_Free(starts);
                    return PyErr_NoMemory();
                }
                starts = grown;
            }
            starts[count++] = i;
        }
    }
    if (count > 1)
        qsort(starts, (size_t)count, sizeof *starts, compare_offsets);
    PyObject *found = PyList_New(count);
    for (Py_ssize_t k = 0; found != NULL && k < count; k++) {
        PyObject *offset = PyLong_FromSsize_t(starts[k]);
        if (offset == NULL)
            Py_CLEAR(found);
        else
            PyList_SET_ITEM(found, k, offset);
    }
    PyMem_Free(starts);
    return found;
}

/* -- occurrences: [m.start() for m in re.finditer(re.escape(word), text)] --------------------------- */

static PyObject *
occurrences(PyObject *module, PyObject *args)
{
    PyObject *text_obj;
    const char *word;
    Py_ssize_t len;
    Text t;
    if (!PyArg_ParseTuple(args, "Us#:occurrences", &text_obj, &word, &len) || text_of(text_obj, &t) < 0)
        return NULL;
    for (Py_ssize_t k = 0; k < len; k++)
        if ((unsigned char)word[k] >= 128) {
            PyErr_SetString(PyExc_ValueError, "occurrences: the word must be ASCII");
            return NULL;
        }
    PyObject *found = PyList_New(0);
    if (found == NULL || len == 0)
        return found;
    Word w = word_of(word, len);
    for (Py_ssize_t i = find_word(&t, &w, 0); i >= 0; i = find_word(&t, &w, i + len)) {
        PyObject *offset = PyLong_FromSsize_t(i);
        if (offset == NULL || PyList_Append(found, offset) < 0) {
            Py_XDECREF(offset);
            Py_DECREF(found);
            return NULL;
        }
        Py_DECREF(offset);
    }
    return found;
}

/* -- tidy: "\n".join(filter(None, map(" ".join, map(str.split, filter(None, text.split("\n")))))) ------ */

/* Each line's words (split as str.split() splits, on any Unicode space) joined by one space, lines without
   words dropped: between two words a line break if one stood between them, else a space. */
static unsigned char LATIN1_SPACE[256];  /* Py_UNICODE_ISSPACE of each 1-byte character, set at import */

static PyObject *
tidy(PyObject *module, PyObject *arg)
{
    Text t;
    Out o;
    if (text_of(arg, &t) < 0 || out_open(&o, &t) < 0)
        return NULL;
    int broke = 0, spaced = 0;
    const Py_UCS1 *bytes = (const Py_UCS1 *)t.data;  /* read as such only when t.kind is 1 */
#define TIDY_SPACE(i) (t.kind == PyUnicode_1BYTE_KIND ? LATIN1_SPACE[bytes[i]] : is_space(AT(&t, i)))
    for (Py_ssize_t i = 0; i < t.n; ) {
        if (TIDY_SPACE(i)) {
            if (AT(&t, i) == '\n')
                broke = 1;
            else
                spaced = 1;
            i++;
            continue;
        }
        if (o.len > 0 && (broke || spaced))
            out_char(&o, broke ? '\n' : ' ');
        broke = spaced = 0;
        Py_ssize_t end = i + 1;  /* the rest of the word, copied at once */
        while (end < t.n && !TIDY_SPACE(end))
            end++;
        out_copy(&o, &t, i, end);
        i = end;
    }
#undef TIDY_SPACE
    return out_close(&o);
}

/* -- fold: doc.lower() of an ASCII document ---------------------------------------------------------- */

/* Eight letters at a time: a byte gets 0x20 added where it lies in 'A'..'Z' (every byte is below 0x80, so
   no sum carries into the next). None for a document that is not ASCII: html.py lower-cases it in Python. */
static PyObject *
ascii_lower_or_none(PyObject *module, PyObject *arg)
{
    Text t;
    if (text_of(arg, &t) < 0)
        return NULL;
    if (!t.ascii)
        Py_RETURN_NONE;
    PyObject *low = PyUnicode_New(t.n, 127);
    if (low == NULL)
        return NULL;
    const unsigned char *src = (const unsigned char *)t.data;
    unsigned char *dst = PyUnicode_DATA(low);
    Py_ssize_t i = 0;
    const uint64_t ones = 0x0101010101010101ULL;
    for (; i + 8 <= t.n; i += 8) {
        uint64_t x;
        memcpy(&x, src + i, 8);
        uint64_t upper = ((x + ones * (0x80 - 'A')) & ~(x + ones * (0x80 - 'Z' - 1))) & (ones * 0x80);
        x |= upper >> 2;
        memcpy(dst + i, &x, 8);
    }
    for (; i < t.n; i++)
        dst[i] = (unsigned char)ascii_lower(src[i]);
    return low;
}

/* -- replace_references: _REFERENCE.split, each reference looked up in `decoded`, joined -------------- */

static inline int
is_ascii_letter(Py_UCS4 ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static inline int
is_digit(Py_UCS4 ch)
{
    return ch >= '0' && ch <= '9';
}

static inline int
is_hex_digit(Py_UCS4 ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* _REFERENCE = &(?:[a-zA-Z][a-zA-Z0-9]*;?|#[0-9]+;?|#[xX][0-9a-fA-F]+;?)  at t[p] == '&': its end, or -1. */
static Py_ssize_t
reference_end(const Text *t, Py_ssize_t p)
{
    Py_ssize_t j = p + 1;
    if (j >= t->n)
        return -1;
    Py_UCS4 ch = AT(t, j);
    if (is_ascii_letter(ch)) {
        j++;
        while (j < t->n && (is_ascii_letter(AT(t, j)) || is_digit(AT(t, j))))
            j++;
    }
    else if (ch == '#') {
        j++;
        if (j < t->n && is_digit(AT(t, j))) {
            while (j < t->n && is_digit(AT(t, j)))
                j++;
        }
        else if (j + 1 < t->n && (AT(t, j) == 'x' || AT(t, j) == 'X') && is_hex_digit(AT(t, j + 1))) {
            j += 2;
            while (j < t->n && is_hex_digit(AT(t, j)))
                j++;
        }
        else
            return -1;
    }
    else
        return -1;
    return (j < t->n && AT(t, j) == ';') ? j + 1 : j;
}

static int
append_new(PyObject *list, PyObject *item)
{
    if (item == NULL)
        return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* URLs with query strings, the common case: when every '&' (the first at `p`) starts "&amp;" and that
   decodes to "&", the text with each "&amp;" as "&", in one pass. Py_None when not so, NULL on an error. */
static PyObject *
only_ampersand_references(const Text *t, Py_ssize_t p, PyObject *decoded)
{
    for (Py_ssize_t at = p; at >= 0; at = find_char(t, '&', at + 1))
        if (!has_word(t, at, "&amp;", 5, 0))
            Py_RETURN_NONE;
    PyObject *reference = PyUnicode_FromString("&amp;");
    PyObject *value = reference ? PyObject_GetItem(decoded, reference) : NULL;
    Py_XDECREF(reference);
    if (value == NULL)
        return NULL;
    int plain = PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 1 && PyUnicode_READ_CHAR(value, 0) == '&';
    Py_DECREF(value);
    if (!plain)
        Py_RETURN_NONE;
    Out o;
    if (out_open(&o, t) < 0)
        return NULL;
    Py_ssize_t copied = 0;
    for (Py_ssize_t at = p; at >= 0; at = find_char(t, '&', copied)) {
        out_copy(&o, t, copied, at + 1);  /* up to and with the '&' */
        copied = at + 5;
    }
    out_copy(&o, t, copied, t->n);
    return out_close(&o);
}

static PyObject *
replace_references(PyObject *module, PyObject *args)
{
    PyObject *text_obj, *decoded;
    Text t;
    if (!PyArg_ParseTuple(args, "UO:replace_references", &text_obj, &decoded) || text_of(text_obj, &t) < 0)
        return NULL;
    Py_ssize_t p = find_char(&t, '&', 0);
    if (p < 0)
        return Py_NewRef(text_obj);
    PyObject *only_amp = only_ampersand_references(&t, p, decoded);
    if (only_amp != Py_None)
        return only_amp;  /* the text done in one pass, or NULL on an error */
    Py_DECREF(only_amp);
    PyObject *pieces = PyList_New(0);
    if (pieces == NULL)
        return NULL;
    Py_ssize_t copied = 0;
    for (; p >= 0; p = find_char(&t, '&', p)) {
        Py_ssize_t end = reference_end(&t, p);
        if (end < 0) {
            p++;
            continue;
        }
        PyObject *reference = PyUnicode_Substring(text_obj, p, end);
        PyObject *value = reference ? PyObject_GetItem(decoded, reference) : NULL;
        Py_XDECREF(reference);
        if (value == NULL) {
            Py_DECREF(pieces);
            return NULL;
        }
        if (p > copied && append_new(pieces, PyUnicode_Substring(text_obj, copied, p)) < 0) {
            Py_DECREF(value);
            Py_DECREF(pieces);
            return NULL;
        }
        if (append_new(pieces, value) < 0) {  /* the value's reference is the list's, or gone */
            Py_DECREF(pieces);
            return NULL;
        }
        copied = p = end;
    }
    PyObject *joined = NULL;
    if (copied >= t.n || append_new(pieces, PyUnicode_Substring(text_obj, copied, t.n)) == 0) {
        PyObject *empty = PyUnicode_New(0, 0);
        joined = empty ? PyUnicode_Join(empty, pieces) : NULL;
        Py_XDECREF(empty);
    }
    Py_DECREF(pieces);
    return joined;
}

/* -- anchor_texts: [seg.partition(CLOSE)[0].strip() for seg in text.split(OPEN)[1:]] ------------------- */

/* The text after each anchor's start mark up to its end mark (or the next start mark, or the end),
   without the spaces around it. */
static PyObject *
anchor_texts(PyObject *module, PyObject *arg)
{
    Text t;
    PyObject *found = results_for(arg, &t);
    if (found == NULL)
        return NULL;
    for (Py_ssize_t open = find_char(&t, OPEN_MARK, 0); open >= 0; ) {
        Py_ssize_t next = find_char(&t, OPEN_MARK, open + 1);
        Py_ssize_t end = next < 0 ? t.n : next;
        Py_ssize_t start = open + 1;
        for (Py_ssize_t k = start; k < end; k++)
            if (AT(&t, k) == CLOSE_MARK) {
                end = k;
                break;
            }
        while (start < end && is_space(AT(&t, start)))
            start++;
        while (end > start && is_space(AT(&t, end - 1)))
            end--;
        if (append_new(found, PyUnicode_Substring(arg, start, end)) < 0) {
            Py_DECREF(found);
            return NULL;
        }
        open = next;
    }
    return found;
}

/* -- module ------------------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"strip_tags", strip_tags, METH_O, "_ANY_TAG.sub('', _BLOCK.sub('\\n', doc))"},
    {"anchors", anchors, METH_O, "(markup with anchor marks, raw hrefs): _ANCHOR_HREF.split, _ANCHOR_CLOSE.sub"},
    {"invisible_starts", invisible_starts, METH_O, "[(start, end, name or None)] of _INVISIBLE_START"},
    {"hiding_starts", hiding_starts, METH_O, "sorted starts of the _HIDING expressions' matches"},
    {"occurrences", occurrences, METH_VARARGS, "starts of each occurrence of an ASCII word, left to right"},
    {"tidy", tidy, METH_O, "each line's words joined by one space, lines without words dropped"},
    {"ascii_lower_or_none", ascii_lower_or_none, METH_O, "doc.lower() if doc is ASCII, else None"},
    {"anchor_texts", anchor_texts, METH_O, "each anchor's text, between its marks, stripped"},
    {"replace_references", replace_references, METH_VARARGS,
     "text with each character reference (as _REFERENCE finds them) replaced by decoded[reference]"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_scan", "C scans for gateway.content.html (see _scan.c)", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    for (int ch = 0; ch < 256; ch++)
        LATIN1_SPACE[ch] = (unsigned char)Py_UNICODE_ISSPACE(ch);
    for (size_t i = 0; i < INVISIBLE_COUNT; i++) {
        if (invisible_name_objects[i] == NULL) {
            invisible_name_lengths[i] = (Py_ssize_t)strlen(INVISIBLE_NAMES[i]);
            invisible_name_objects[i] = PyUnicode_InternFromString(INVISIBLE_NAMES[i]);
            if (invisible_name_objects[i] == NULL)
                return NULL;
        }
    }
    return PyModule_Create(&module_def);
}
