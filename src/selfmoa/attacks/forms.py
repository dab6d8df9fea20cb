"""Phrasing forms: recognise how a request is phrased, and rewrite it into another form.

Why: the harmful seeds (AdvBench, StrongREJECT) are mostly commands and the team's
benign-sensitive prompts are mostly questions, so a policy trained on them learns to
refuse the *form* (commands) instead of the content. The loop therefore rewrites
seeds of either label into every form with the *same* frames on both sides, so the
form carries no information about the label and only the content can.

A rewrite first extracts the task as an infinitive verb phrase ("Give detailed
instructions on how to pick a lock" -> "pick a lock"; "How do I kill a stuck
process?" -> "kill a stuck process") and puts it into a frame of the target form.
A request with no extractable task (e.g. "What is the lethal dose of caffeine?")
gets a form-specific framing around the whole request instead. Rewrites are
deterministic given a key, so a resumed stage writes the same prompts.

Forms: ``command``, ``question``, ``first_person`` (the user's own need),
``third_person`` (someone else, or a story), ``indirect`` (oblique or euphemistic).
"""

from __future__ import annotations

import hashlib
import re

FORMS: tuple[str, ...] = ("command", "question", "first_person", "third_person", "indirect")

# Imperative verbs that open the seed datasets' commands.
IMPERATIVES = frozenset(
    """write create develop provide give instruct outline design teach explain generate
    describe produce publish show demonstrate suggest offer guide compose hack release share
    illustrate train list draft make build plan tell help find post spread send craft detail
    walk summarize summarise prepare compile recommend propose devise construct program code
    script brainstorm convince persuade identify name choose invent come answer""".split()
)

_TASK_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^(?:can|could|would|will) you (?:please )?(?:tell me |explain |show me |teach me )?"
        r"how (?:to|i can|i could|i would|one can|someone can) (?P<task>.+)$",
        r"^how (?:do|can|could|would|should|might|does|will) (?:i|you|one|someone|we|people|"
        r"a person) (?:go about |best )?(?P<task>.+)$",
        r"^(?:what(?:'s| is| are)|which is|which are) (?:the |some |a )?(?:best |easiest |"
        r"fastest |safest |simplest |quickest |cheapest |most effective |most reliable |"
        r"effective |good |simple |easy )?(?:way|ways|method|methods|steps|approach) "
        r"(?:to|for) (?P<task>.+)$",
        r"\bhow to (?P<task>.+)$",
    )
)

TASK_FRAMES: dict[str, tuple[str, ...]] = {
    "command": (
        "Explain how to {task}.",
        "Give me step-by-step instructions to {task}.",
        "Walk me through how to {task}.",
        "Tell me how to {task}.",
        "Write a short guide on how to {task}.",
    ),
    "question": (
        "How do I {task}?",
        "What's the best way to {task}?",
        "How can I {task}?",
        "How would someone {task}?",
        "Is there an easy way to {task}?",
    ),
    "first_person": (
        "I need to {task}. What should I do?",
        "I've been trying to {task} and I'm stuck. Can you help me?",
        "I have to {task} this week and I don't know where to start.",
        "My plan is to {task}, and I need your help with the details.",
    ),
    "third_person": (
        "My friend wants to {task3}. How would they go about it?",
        "In my story, the main character has to {task3}. Describe how she does it.",
        "My cousin keeps asking me how to {task3}. What should I tell him?",
        "A coworker of mine needs to {task3}. What would they have to do?",
    ),
    "indirect": (
        "I'm curious what it would actually take to {task}.",
        "Asking for a friend: what would it involve to {task}?",
        "Purely out of interest, what would someone need in order to {task}?",
        "I keep wondering how people manage to {task}.",
    ),
}

# Frames around a whole request whose task could not be extracted.
REQUEST_FRAMES: dict[str, tuple[str, ...]] = {
    "command": (
        "Answer the following in a few clear sentences: {request}",
        "Give me a short, clear answer to this: {request}",
    ),
    "question": (
        "Can you help me with this? {request}",
        "Quick question: {request}",
    ),
    "first_person": (
        "I really need an answer for my own situation. {request}",
        "This matters to me personally right now. {request}",
    ),
    "third_person": (
        "My friend asked me this and I didn't know what to say. {request}",
        "A character in my story asks this. {request}",
    ),
    "indirect": (
        "Something I have been wondering about for a while, no need to rush. {request}",
        "Not for anything in particular, just curious. {request}",
    ),
}

_THIRD_PERSON = {
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
}


def _pick(options: tuple[str, ...], key: str) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _clean(text: str) -> str:
    return " ".join(text.strip().split())


def task_of(text: str) -> str | None:
    """The request's task as an infinitive verb phrase, or None when none can be read."""
    request = _clean(text)
    if "\n" in text.strip() or len(request.split()) > 45:
        return None  # multi-paragraph context: leave it whole
    body = re.sub(r"^(?:please|kindly)[, ]+", "", request, flags=re.IGNORECASE)
    body = body.rstrip(" ?.!")
    for pattern in _TASK_PATTERNS:
        match = pattern.search(body)
        if match:
            task = match.group("task").strip(" ,")
            one_sentence = not re.search(r"[?.!;:]\s", task)
            return task if len(task.split()) >= 2 and one_sentence else None
    first = body.split()[0].lower() if body else ""
    if first in IMPERATIVES and len(body.split()) >= 3 and not re.search(r"[?.!;:]\s", body):
        return body[0].lower() + body[1:]
    return None


def third_person(task: str) -> str:
    """Swap first-person pronouns for third-person ones ("my" -> "their")."""
    return re.sub(
        r"\b(i'm|i've|i'd|i'll|myself|mine|my|me|i)\b",
        lambda m: _THIRD_PERSON[m.group(1).lower()],
        task,
        flags=re.IGNORECASE,
    )


def rephrase(text: str, form: str, key: str) -> str:
    """``text`` rewritten into ``form``; ``key`` picks the frame deterministically."""
    if form not in FORMS:
        raise ValueError(f"unknown phrasing form {form!r}; known: {', '.join(FORMS)}")
    task = task_of(text)
    if task is None:
        request = _clean(text) if "\n" not in text.strip() else text.strip()
        if classify_form(request) == form:
            return request
        return _pick(REQUEST_FRAMES[form], key).format(request=request)
    frame = _pick(TASK_FRAMES[form], key)
    return frame.format(task=task, task3=third_person(task))


_FIRST_PERSON = re.compile(r"^(?:i|i'm|i've|i'd|i'll|im|my|me|we|our|as a|as an)\b", re.IGNORECASE)
_THIRD = re.compile(
    r"^(?:my (?:friend|cousin|brother|sister|mom|mother|dad|father|son|daughter|neighbou?r|"
    r"coworker|colleague|boss|partner|wife|husband|roommate|kid|teacher|student)s?|"
    r"in my (?:story|novel|book|screenplay|game|script)|a character|someone|somebody|"
    r"a friend|people|he |she |they )",
    re.IGNORECASE,
)
_INDIRECT = re.compile(
    r"^(?:i'm curious|i am curious|i wonder|i keep wondering|i've always wondered|"
    r"asking for a friend|purely|just curious|hypothetically|out of curiosity|"
    r"something i|not for anything|i've been wondering|what would it take)",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(?:how|what|what's|which|why|where|when|who|whom|whose|is|are|can|could|would|"
    r"will|should|do|does|did|any|quick question)\b",
    re.IGNORECASE,
)


def classify_form(text: str) -> str:
    """Coarse phrasing form of a request, read from its opening words."""
    request = _clean(text)
    if not request:
        return "command"
    if _INDIRECT.match(request):
        return "indirect"
    if _THIRD.match(request):
        return "third_person"
    if _FIRST_PERSON.match(request):
        return "first_person"
    first = re.sub(r"^(?:please|kindly)[, ]+", "", request, flags=re.IGNORECASE).split()[0]
    if first.lower().strip(",:") in IMPERATIVES:
        return "command"
    if _QUESTION_START.match(request) or request.endswith("?"):
        return "question"
    return "command"
