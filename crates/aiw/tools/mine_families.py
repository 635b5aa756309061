# Mines AIW prompt families from prompts.json into ../families.toml (one-off; reviewed; see README.md "Generator").
# Not used by the build or the tests. Usage: python3 tools/mine_families.py (paths below).
import json, re, sys, os, collections, itertools
HERE = os.path.dirname(os.path.abspath(__file__))
PROMPTS = os.environ.get('AIW_PROMPTS', os.path.join(HERE, '../../../../shared/data/aiw/prompts.json'))
P = json.load(open(PROMPTS))
WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
NOUNS = set("brother sister friend colleague girl boy female male cousin nephew niece sibling child son daughter aunt uncle person member woman man grandchild grandson granddaughter kid comedy western bowl bead table".split())
def plural(w):
    if w == 'child': return 'children'
    if w in ('man','woman'): return w[:-2]+'en'
    if w == 'person': return 'persons'
    if w.endswith('y') and w[-2] not in 'aeiou': return w[:-1]+'ies'
    return w+'s'
SING = {}
for n in NOUNS: SING[plural(n)] = n; SING[n] = n
# also people
SING['people'] = 'person'
texts = [(p['id'], p['prompt']) for p in P if isinstance(p['prompt'], str)]
# prefixes
PREFIXES = {}
for _, t in texts:
    m = re.match(r'(<\|begin_of_text\|>.*?user<\|end_header_id\|> )', t, re.S)
    if m and '<|eot_id|>' in m.group(1): PREFIXES.setdefault(m.group(1), 0); PREFIXES[m.group(1)] += 1
    if t.startswith('### Problem: '): PREFIXES.setdefault('### Problem: ', 0); PREFIXES['### Problem: '] += 1
def strip_prefix(t):
    for p in sorted(PREFIXES, key=len, reverse=True):
        if t.startswith(p): return p, t[len(p):]
    return '', t
# suffixes (with their separator)
cnt = collections.Counter()
for _, t in texts:
    _, body = strip_prefix(t)
    i = body.find('? ')
    if i >= 0: cnt[body[i+1:]] += 1
    if body.endswith('\n### Answer: '): cnt['\n### Answer: '] += 1
SUFFIXES = [s for s, n in cnt.items() if n >= 2 and '### Problem' not in s]
def strip_suffix(b):
    for s in sorted(SUFFIXES, key=len, reverse=True):
        if b.endswith(s) and len(b) > len(s): return s, b[:-len(s)]
    return '', b
NUM = re.compile(r"\b(\d+|[A-Z]|" + "|".join(WORDS[1:]) + "|" + "|".join(w.capitalize() for w in WORDS[1:]) + r")\b")
MODS = set("male female other scientist software engineer non-scientist younger older elder further more red blue green yellow big small square oval".split())
def agrees(tok, w):
    isplural = SING[w] != w
    if len(tok) == 1 and tok.isalpha(): return isplural
    v = int(tok) if tok.isdigit() else WORDS.index(tok.lower()) if tok.lower() in WORDS else None
    return v is not None and ((v == 1) != isplural)
def esc(t):
    return t.replace('{', '{{').replace('}', '}}')
def templatize(problem):
    out = []; vals = []; styles = []; pos = 0
    for m in NUM.finditer(problem):
        tok = m.group(1)
        # look ahead: up to 3 following words, find first noun
        rest = problem[m.end():]
        wm = re.match(r"((?: [A-Za-z-]+){1,4})", rest)
        if not wm: continue
        words = wm.group(1).split(' ')[1:]
        k = None
        for j, w in enumerate(words):
            if w in SING and agrees(tok, w): k = j; break
            if w not in MODS: break
        if k is None: continue
        if tok.isdigit(): v = int(tok); st = 'd'
        elif len(tok) == 1: v = tok; st = 'sym'
        elif tok.lower() in WORDS: v = WORDS.index(tok.lower()); st = 'W' if tok[0].isupper() else 'w'
        else: continue
        w = words[k]; base = SING[w]
        isplural = (w != base)
        if st == 'sym':
            if not isplural: continue
        elif (v == 1) == isplural: continue   # disagreement: keep literal
        phrase = ' '.join(words[:k] + [base])
        out.append(esc(problem[pos:m.start()]))
        idx = len(vals)
        out.append('{%s|%s}' % ('s%d' % idx, phrase))
        vals.append(v); styles.append(st)
        pos = m.end() + 1 + len(' '.join(words[:k+1]))
    out.append(esc(problem[pos:]))
    return ''.join(out), vals, styles
inst = []
for pid, t in texts:
    pre, body = strip_prefix(t)
    suf, prob = strip_suffix(body)
    tpl, vals, styles = templatize(prob)
    inst.append(dict(id=pid, prefix=pre, suffix=suf, tpl=tpl, vals=vals, styles=styles))
RA = {p['id']: p['right_answer'] for p in P}
P_by = {p['id']: p for p in P}
def num(ra):
    if isinstance(ra, (int, float)): return float(ra)
    if isinstance(ra, str):
        try: return float(ra)
        except: return None
    return None
def candidates(n):
    c = []
    for i in range(n): c.append(('s%d' % i, lambda v, i=i: v[i]))
    for d in (1, -1, 2, -2):
        for i in range(n): c.append(('s%d %s %d' % (i, '+' if d > 0 else '-', abs(d)), lambda v, i=i, d=d: v[i] + d))
    for i, j in itertools.combinations(range(n), 2):
        for d in (0, 1, -1, 2, 3, -2):
            nm = 's%d + s%d' % (i, j) + ('' if d == 0 else (' + %d' % d if d > 0 else ' - %d' % -d))
            c.append((nm, lambda v, i=i, j=j, d=d: v[i] + v[j] + d))
    for i, j in itertools.permutations(range(n), 2):
        for d in (0, 1, -1):
            nm = 's%d - s%d' % (i, j) + ('' if d == 0 else (' + %d' % d if d > 0 else ' - %d' % -d))
            c.append((nm, lambda v, i=i, j=j, d=d: v[i] - v[j] + d))
    for i, j, k in itertools.combinations(range(n), 3):
        for d in (0, 1, -1, 2):
            nm = 's%d + s%d + s%d' % (i, j, k) + ('' if d == 0 else (' + %d' % d if d > 0 else ' - %d' % -d))
            c.append((nm, lambda v, i=i, j=j, k=k, d=d: v[i] + v[j] + v[k] + d))
    for i, j, k in itertools.permutations(range(n), 3):
        if i > k: continue
        for d in (0, 1, -1, -2):
            nm = 's%d - s%d + s%d' % (i, j, k) + ('' if d == 0 else (' + %d' % d if d > 0 else ' - %d' % -d))
            c.append((nm, lambda v, i=i, j=j, k=k, d=d: v[i] - v[j] + v[k] + d))
    c.append(('1', lambda v: 1)); c.append(('0', lambda v: 0))
    return c
OVERRIDES = [
    # AIW+ (one sister count): cousins = mother's side (nephews&nieces - Alice's family) + father's side (same) + sons
    (r"^Alice has \{s0\|sister\}(?: and no other siblings)?\. Her mother has \{s1\|sister\} who does not have children (?:and who|- she) has \{s2\|nephew\} and nieces and also \{s3\|brother\}\. Alice's father has a brother.*How many cousins does Alice's sister have\?$", 's2 + s4 + s5 - 2*s0 - 2'),
    (r"^Alice has \{s0\|sister\} and no other siblings\. Her mother has \{s1\|sister\} who does not have children and who has \{s2\|nephew\} and nieces and also \{s3\|brother\}\. Alice's father has \{s4\|sister\}.*How many cousins does Alice's sister have\?$", 's2 + s5 + s6 - 2*s0 - 2'),
    # AIW++ (sisters and brothers), mother's sister first
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|sister\} who does not have children.*\{s9\|son\}\. How many cousins does Alice's sister have\?$", 's3 + s4 + s7 + s8 + s9 - 2*(s0 + s1 + 1)'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|sister\} who does not have children.*\{s9\|daughter\}\. How many cousins does Alice's sister have\?$", 's3 + s4 + s7 + s8 + s9 - 2*(s0 + s1 + 1)'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|sister\} who does not have children.*\{s9\|son\}\. How many male cousins does Alice's sister have\?$", 's3 + s7 + s9 - 2*s1'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|sister\} who does not have children.*\{s9\|daughter\}\. How many male cousins does Alice's sister have\?$", 's3 + s7 - 2*s1'),
    # AIW++, mother's brothers first
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|brother\}\. She also has \{s3\|sister\} who does not have children and who has \{s4\|nephew\} and \{s5\|niece\}.*\{s9\|(?:son|daughter)\}\. How many cousins does Alice's sister have\?$", 's4 + s5 + s7 + s8 + s9 - 2*(s0 + s1 + 1)'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|brother\}\. She also has \{s3\|sister\} who does not have children and who has \{s4\|nephew\} and \{s5\|niece\}.*\{s9\|son\}\. How many male cousins does Alice's sister have\?$", 's4 + s7 + s9 - 2*s1'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|brother\}\. She also has \{s3\|sister\} who does not have children and who has \{s4\|nephew\} and \{s5\|niece\}.*\{s9\|daughter\}\. How many male cousins does Alice's sister have\?$", 's4 + s7 - 2*s1'),
    (r"^Alice has \{s0\|sister\} and \{s1\|brother\} in total\. Her mother has \{s2\|brother\}\. She also has \{s3\|sister\} who does not have children and who has \{s4\|nephew\} and nieces.*\{s7\|(?:son|daughter)\}\. How many cousins does Alice's sister have\?$", 's4 + s6 + s7 - 2*(s0 + s1 + 1)'),
]
def pyeval(f, v):
    return eval(re.sub(r's(\d+)', lambda m: 'v[%s]' % m.group(1), f))
fam = collections.OrderedDict()
for x in inst:
    if not x['vals']: continue
    fam.setdefault(x['tpl'], []).append(x)
def nouns(tpl):
    return re.findall(r'\{s\d+\|([^}]*)\}', tpl)
# consistent formulas per family, over numeric instances with numeric right answers
cons = {}
for tpl, xs in fam.items():
    n = len(xs[0]['vals'])
    cs = candidates(n)
    numeric = [x for x in xs if all(isinstance(v, int) for v in x['vals']) and num(RA[x['id']]) is not None]
    ok = [nm for nm, f in cs if numeric and all(f(x['vals']) == num(RA[x['id']]) for x in numeric)]
    for pat, f in OVERRIDES:
        if re.search(pat, tpl, re.S) and max(int(i) for i in re.findall(r's(\d+)', f)) < len(xs[0]['vals']):
            bad = [x['id'] for x in numeric if pyeval(f, x['vals']) != num(RA[x['id']])]
            print('override', f, 'inconsistent ids', bad, file=sys.stderr)
            ok = [f]
    cons[tpl] = ok
# disambiguate by question sentence: map formula to noun-labelled form, intersect over same question
def question(tpl):
    qs = re.findall(r'[^.?!]*\?', tpl)
    return qs[-1].strip() if qs else tpl
def label(tpl, f):
    ns = nouns(tpl)
    return re.sub(r's(\d+)', lambda m: '<' + ns[int(m.group(1))] + '#' + str(ns[:int(m.group(1))].count(ns[int(m.group(1))])) + '>', f)
byq = collections.defaultdict(list)
for tpl in fam:
    if cons[tpl]: byq[question(tpl)].append(tpl)
chosen = {}
for q, tpls in byq.items():
    sets = [set(label(t, f) for f in cons[t]) for t in tpls]
    common = set.intersection(*sets)
    for t in tpls:
        pick = None
        for f in cons[t]:
            if label(t, f) in common: pick = f; break
        chosen[t] = pick or cons[t][0]
qlab = collections.defaultdict(collections.Counter)
for t, f in chosen.items():
    if f: qlab[question(t)][label(t, f)] += 1
for t in fam:
    if chosen.get(t) or not qlab.get(question(t)): continue
    ns = nouns(t)
    for lf, _ in qlab[question(t)].most_common():
        def back(m):
            noun, k = m.group(1).rsplit('#', 1)
            idx = [i for i, n in enumerate(ns) if n == noun]
            if int(k) >= len(idx): raise KeyError
            return 's%d' % idx[int(k)]
        try:
            f = re.sub(r'<([^>]*)>', back, lf)
        except KeyError:
            continue
        numeric = [x for x in fam[t] if all(isinstance(v, int) for v in x['vals']) and num(RA[x['id']]) is not None]
        bad = [x['id'] for x in numeric if pyeval(f, x['vals']) != num(RA[x['id']])]
        # Accept a borrowed formula only for symbolic families or when at most one member of a
        # family of >= 3 disagrees (a stored-answer error, e.g. id 772).
        if not numeric and not any(isinstance(v, str) for x in fam[t] for v in x['vals']):
            continue
        if numeric and (len(bad) > 1 or (bad and len(numeric) < 3)):
            continue
        print('borrowed', f, 'for', [x['id'] for x in fam[t]], 'inconsistent', bad, file=sys.stderr)
        chosen[t] = f
        break
for tpl in fam:
    if tpl not in chosen and any(isinstance(v, str) for x in fam[tpl] for v in x['vals']):
        pass
json.dump(dict(prefixes=list(PREFIXES), suffixes=SUFFIXES, families=[dict(template=t, formula=chosen.get(t), ids=[x['id'] for x in xs]) for t, xs in fam.items()]), open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'aiw_mined.json'), 'w'), indent=1)
cov = sum(len(xs) for t, xs in fam.items() if chosen.get(t))
print('families', len(fam), 'with formula', sum(1 for t in fam if chosen.get(t)), 'covered ids', cov)
print('no slots:', [x['id'] for x in inst if not x['vals']])
print('no formula:', [(x['id']) for t, xs in fam.items() if not chosen.get(t) for x in xs])
print('suffixes', len(SUFFIXES), 'prefixes', len(PREFIXES))

# Manual review of singleton families whose formula no other family confirms (README):
# corrected formulas, or None = the answer is no linear formula of the counts (family dropped).
REVIEW = {9: '2', 154: 's1 + 1', 328: '2', 334: 's0 + s1',
          72: None, 73: None, 586: None, 587: None, 588: None, 589: None, 593: None,
          754: None, 755: None, 756: None, 759: None, 760: None}
for t2, xs in fam.items():
    if len(xs) == 1 and xs[0]['id'] in REVIEW:
        f = REVIEW[xs[0]['id']]
        if f is not None:
            assert pyeval(f, xs[0]['vals']) == num(RA[xs[0]['id']]), (xs[0]['id'], f)
        chosen[t2] = f
NAMES = {
 ' Solve this problem and provide the final answer in following form: "### Answer: ".': 'STANDARD',
 ' Before providing answer to this problem, think carefully and double check the path to the correct solution for any mistakes. Provide then the final answer in following form: "### Answer: ".': 'THINKING_V1',
 ' Before providing answer to this problem, think carefully step by step and double check the path to the correct solution for any mistakes. Provide then the final answer in following form: "### Answer: ".': 'THINKING_V2',
 ' To answer the question, DO NOT OUTPUT ANY TEXT EXCEPT following format that contains final answer: "### Answer: ".': 'RESTRICTED',
 ' Provide the final answer in following form: "### Answer: ".': 'PROVIDE',
 ' Provide then the final answer in following form: "### Answer: ".': 'PROVIDE_THEN',
 ' Count them step by step.': 'COUNT_STEPS',
 ' Count them step by step. Provide then the final answer in following form: "### Answer: ".': 'COUNT_STEPS_PROVIDE',
 ' To answer the question, DO NOT OUTPUT ANY TEXT EXCEPT following format that contains final answer: ### Answer:': 'RESTRICTED_UNQUOTED',
 '\n### Answer: ': 'BASE_COMPLETION',
}
def tq(s):
    return json.dumps(s, ensure_ascii=False)
out = ['# AIW prompt families: generated by a one-off mining pass over prompts.json (see README.md,',
       '# "Generator"), then reviewed. Rendering and matching live in src/generator.rs.', '']
for i, p in enumerate(sorted(PREFIXES)):
    nm = 'BASE_PROBLEM' if p.startswith('###') else 'REFLECTION_SYSTEM'
    out += ['[[prefix]]', 'name = %s' % tq(nm), 'text = %s' % tq(p), '']
k = 0
for sfx in sorted(SUFFIXES, key=lambda x: (NAMES.get(x, 'ZZ'), x)):
    nm = NAMES.get(sfx)
    if nm is None:
        k += 1; nm = 'OTHER_%02d' % k
    out += ['[[suffix]]', 'name = %s' % tq(nm), 'text = %s' % tq(sfx), '']
j = 0
for t, xs in fam.items():
    f = chosen.get(t)
    if not f: continue
    j += 1
    desc = (P_by[xs[0]['id']].get('description') or '').strip()
    out += ['[[family]]', 'name = "f%03d"' % j, 'example = %s' % tq('id %d: %s' % (xs[0]['id'], desc[:100])), 'template = %s' % tq(t), 'answer = %s' % tq(f), '']
open(os.path.join(HERE, '../families.toml'), 'w').write('\n'.join(out))

# --- stats for the README: singleton families whose formula no other family confirms
lab_by_q = collections.defaultdict(list)
for t2, f2 in chosen.items():
    if f2: lab_by_q[question(t2)].append((t2, label(t2, f2)))
weak = []
for t2, xs in fam.items():
    f2 = chosen.get(t2)
    if not f2 or len(xs) > 1: continue
    if any(o != t2 and l == label(t2, f2) for o, l in lab_by_q[question(t2)]): continue
    weak.append(xs[0]['id'])
print('singleton families with a formula no other family confirms:', len(weak), weak)
