"""A deterministic synthetic news corpus for the benchmarks.

Every article is 2,500-4,000 characters of English news prose: sentences built from templates
about towns, dates, numbers, officials and organisations, mixed with sentences taken from the
real seed articles in data/corpus. The same (n, seed) always gives byte-identical files.

    .venv/bin/python -m bench.corpus --docs 2000 --out /tmp/bench-corpus           # seed-format .txt
    .venv/bin/python -m bench.corpus --docs 2000 --out /tmp/bench.jsonl --jsonl    # one JSONL file
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = PROJECT_ROOT / "data" / "corpus"

TOWNS = (
    "Kupiansk", "Vovchansk", "Kharkiv", "Izium", "Balakliia", "Lyman", "Bakhmut", "Avdiivka", "Pokrovsk",
    "Kramatorsk", "Sloviansk", "Zaporizhzhia", "Kherson", "Mykolaiv", "Odesa", "Dnipro", "Sumy", "Chernihiv",
    "Poltava", "Lviv", "Ternopil", "Rivne", "Lutsk", "Uzhhorod", "Vinnytsia", "Zhytomyr", "Cherkasy",
    "Kropyvnytskyi", "Bilhorod", "Nikopol", "Marhanets", "Orikhiv", "Huliaipole", "Velyka Novosilka",
    "Kostiantynivka", "Druzhkivka", "Siversk", "Toretsk", "Chasiv Yar", "Kurakhove", "Selydove", "Myrnohrad",
    "Belgorod", "Kursk", "Bryansk", "Rzeszow", "Przemysl", "Chisinau", "Tiraspol", "Gdansk",
)  # fmt: skip
REGIONS = (
    "Kharkiv region", "Donetsk region", "Zaporizhzhia region", "Kherson region", "Dnipropetrovsk region",
    "Sumy region", "Chernihiv region", "Luhansk region", "Odesa region", "Mykolaiv region", "Lviv region",
)  # fmt: skip
FIRST = (
    "Viktor", "Oleksandr", "Olena", "Iryna", "Serhii", "Andrii", "Yulia", "Dmytro", "Natalia", "Mykola",
    "Oksana", "Petro", "Tetiana", "Vitalii", "Ihor", "Anna", "Roman", "Kateryna", "Yurii", "Svitlana",
    "Maria", "Pavlo", "Halyna", "Bohdan", "Larysa", "Taras", "Marta", "Vasyl", "Lesia", "Artem",
)  # fmt: skip
LAST = (
    "Trehubov", "Syniehubov", "Kovalenko", "Bondarenko", "Shevchenko", "Tkachenko", "Kravchenko", "Melnyk",
    "Polishchuk", "Marchenko", "Lysenko", "Rudenko", "Savchenko", "Petrenko", "Klymenko", "Moroz", "Pavlenko",
    "Hrytsenko", "Ivanchuk", "Zaitsev", "Honcharenko", "Sydorenko", "Ostapenko", "Levchenko", "Yatsenko",
)  # fmt: skip
ROLES = (
    "head of the regional military administration", "spokesperson for the Joint Forces Task Force",
    "mayor", "deputy mayor", "head of the communications department", "regional police chief",
    "commander of the territorial defence brigade", "head of the district council", "chief medical officer",
    "head of the emergency service", "energy minister", "infrastructure minister", "prosecutor general",
    "human rights ombudsman", "coordinator of the volunteer network", "director of the city hospital",
)  # fmt: skip
ORGS = (
    "the State Emergency Service", "the Air Force", "the General Staff", "the regional administration",
    "the Ministry of Energy", "the Red Cross", "the UN refugee agency", "the World Food Programme",
    "the national power company", "the railway operator", "a local volunteer team", "the city council",
    "the Ministry of Defence", "the border guard service", "the national police", "Doctors Without Borders",
)  # fmt: skip
THINGS = (
    "drones", "missiles", "artillery shells", "guided bombs", "rockets", "tanks", "armoured vehicles",
    "generators", "tonnes of humanitarian aid", "evacuation buses", "field hospitals", "water trucks",
    "shelters", "power substations", "apartment blocks", "schools", "bridges", "grain silos",
)  # fmt: skip
EVENTS = (
    "an overnight attack", "a morning strike", "heavy shelling", "a massive drone raid", "a ballistic missile attack",
    "an assault on the northern districts", "a counter-attack near the river", "a power outage",
    "an evacuation of civilians", "a prisoner exchange", "a flood after the dam breach", "a fire at a fuel depot",
)  # fmt: skip
TEMPLATES = (
    "On {date}, {event} hit {town}, according to {person}, the {role}.",
    "{Person}, the {role} of {town}, said that {n} {things} had been recorded in the area since {date}.",
    "Air defences shot down {n} of the {m} {things} launched towards {town} overnight, {org} reported.",
    "In {town}, {n} people were evacuated on {date} after {event}, officials said.",
    "{Org} said it had delivered {n} {things} to {town} and nearby villages in the {region}.",
    "The {role}, {person}, told reporters in {town} that the situation remained difficult but under control.",
    "According to {org}, at least {n} civilians were injured and {k} killed in {town} on {date}.",
    "Residents of {town} have lived without stable electricity for {k} weeks, local authorities said.",
    "{Person} said the front line near {town} had moved by about {k} kilometres since {month}.",
    "The attack on {town} damaged {n} {things}, {org} said in a statement on {date}.",
    "Only {k} of the {n} doctors who worked in {town} before the war remain, said {person}.",
    "Volunteers from {org} have been evacuating people from {town} every day since {date}.",
    "{Org} estimated the cost of repairs in the {region} at {n} million hryvnias.",
    "Officials in {town} warned that {event} could follow, and urged residents to stay in shelters.",
    "The population of {town} fell from about {big} before the invasion to roughly {n} today.",
    "{Person}, the {role}, said {n} {things} were destroyed during {event} near {town}.",
    "Schools in {town} have moved to online lessons until {date}, the {role} announced.",
    "Trains between {town} and {town2} resumed on {date} after a pause of {k} days.",
    "{Org} opened {k} new {things} in the {region}, with room for {n} people.",
    "In a video address on {date}, {person} thanked the crews of {org} for their work in {town}.",
    "Satellite images showed {n} {things} gathered about {k} kilometres from {town}.",
    "The {role} of {town}, {person}, said the town had received {n} {things} from partners abroad.",
    "Prices for bread in {town} have risen by {k} percent since {month}, traders said.",
    "More than {n} households in the {region} were left without gas after {event}.",
)  # fmt: skip
TITLES = (
    "{Event} in {town} leaves {n} {things} damaged",
    "{town} braces for renewed assault as {org} reports {n} {things}",
    "{Person} says {town} will hold despite {event}",
    "Evacuations from {town} rise after {event}",
    "{region}: {n} {things} shot down overnight",
    "Life in {town} after {event}",
)  # fmt: skip
SOURCES = ("BNN Newsroom", "DW News", "Kyiv Independent", "Ukrinform", "Reuters", "Associated Press")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip


@dataclass(frozen=True)
class SyntheticArticle:
    id: str
    title: str
    published: date
    source: str
    body: str

    def seed_text(self) -> str:
        """The article in the seed corpus .txt layout: ` date` header, title, body, outlet footer."""
        footer = (
            f"{self.source} is an international news organisation that reports on the war in Ukraine "
            "and its consequences for the region."
        )
        return f" date {self.published.isoformat()} en English\n{self.title}\n\n{self.body}\n\n{footer}\n"

    def json_obj(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "date": self.published.isoformat(),
            "source": self.source,
            "language": "en",
            "text": self.body,
        }


def seed_sentences(root: Path = SEED_CORPUS) -> list[str]:
    """Real sentences from the seed articles (40-300 characters), used as extra vocabulary."""
    out: list[str] = []
    for path in sorted(root.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for s in re.split(r"(?<=[.!?])\s+", text.replace("\n", " ")):
            s = " ".join(s.split())
            if 40 <= len(s) <= 300 and s[0].isupper() and s.endswith("."):
                out.append(s)
    return out


def _fill(rng: random.Random, template: str, day: date) -> str:
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    when = day - timedelta(days=rng.randint(0, 40))
    org = rng.choice(ORGS)
    event = rng.choice(EVENTS)
    n = rng.randint(3, 900)
    values = {
        "date": f"{when.day} {MONTHS[when.month - 1]} {when.year}",
        "month": MONTHS[rng.randrange(12)],
        "town": rng.choice(TOWNS),
        "town2": rng.choice(TOWNS),
        "region": rng.choice(REGIONS),
        "person": person,
        "Person": person,
        "role": rng.choice(ROLES),
        "org": org,
        "Org": org[0].upper() + org[1:],
        "event": event,
        "Event": event[0].upper() + event[1:],
        "things": rng.choice(THINGS),
        "n": str(n),
        "m": str(n + rng.randint(1, 60)),
        "k": str(rng.randint(2, 40)),
        "big": f"{rng.randint(20, 300)},000",
    }
    return template.format(**values)


def make_article(i: int, rng: random.Random, real: list[str]) -> SyntheticArticle:
    """One article: 2,500-4,000 characters of body in paragraphs of 3-6 sentences."""
    day = date(2022, 3, 1) + timedelta(days=rng.randint(0, 1400))
    target = rng.randint(2500, 4000)
    paragraphs: list[str] = []
    size = 0
    while size < target:
        sents: list[str] = []
        for _ in range(rng.randint(3, 6)):
            if real and rng.random() < 0.2:
                sents.append(rng.choice(real))
            else:
                sents.append(_fill(rng, rng.choice(TEMPLATES), day))
        para = " ".join(sents)
        if size + len(para) > 4000 and size >= 2500:
            break
        paragraphs.append(para)
        size += len(para) + 2
    body = "\n\n".join(paragraphs)
    if len(body) > 4000:  # cut at the last sentence end inside the limit
        cut = body.rfind(". ", 0, 4000)
        body = body[: cut + 1] if cut > 2500 else body[:4000]
    title = _fill(rng, rng.choice(TITLES), day)
    title = title[0].upper() + title[1:]
    return SyntheticArticle(f"bench_{i:06d}", title, day, rng.choice(SOURCES), body)


def generate(n: int, seed: int = 1234) -> list[SyntheticArticle]:
    """`n` articles, the same for the same (n, seed); article i does not depend on n."""
    real = seed_sentences()
    return [make_article(i, random.Random(seed * 1_000_003 + i), real) for i in range(n)]


def write_txt(articles: list[SyntheticArticle], out_dir: Path) -> Path:
    """One seed-format .txt per article (file stem = article id); returns the directory."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for a in articles:
        (out_dir / f"{a.id}.txt").write_text(a.seed_text(), encoding="utf-8")
    return out_dir


def write_jsonl(articles: list[SyntheticArticle], out_file: Path) -> Path:
    """All articles in one JSONL file (`id`, `title`, `date`, `source`, `language`, `text`)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with out_file.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a.json_obj(), ensure_ascii=False) + "\n")
    return out_file


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description="Write a deterministic synthetic news corpus (seed-format .txt files, or one JSONL file)."
    )
    ap.add_argument("--docs", type=int, default=2000, help="number of articles (default 2000)")
    ap.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    ap.add_argument("--out", type=Path, required=True, help="output directory (.txt) or file (--jsonl)")
    ap.add_argument("--jsonl", action="store_true", help="write one JSONL file instead of .txt files")
    args = ap.parse_args(argv)
    arts = generate(args.docs, args.seed)
    path = write_jsonl(arts, args.out) if args.jsonl else write_txt(arts, args.out)
    chars = sum(len(a.body) for a in arts)
    print(f"wrote {len(arts)} articles ({chars / len(arts):.0f} chars on average) to {path}")


if __name__ == "__main__":
    main()
