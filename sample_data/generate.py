"""Write the bundled sample corpus (sample_data/news/*.jsonl.gz) from templates, deterministically.

    python sample_data/generate.py

Everything here was written for corpuskit; nothing is copied from another corpus.
The corpus plants what later steps must handle: exact and near duplicates, ad and
boilerplate lines, pure spam, mixed full-width/half-width punctuation, broken HTML
entities, PII, mojibake, other languages, a GBK-encoded file and broken lines.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "news"
rng = random.Random(20261123)

CITIES = ["Springfield", "Riverton", "Lakeside", "Oakdale", "Fairview", "Harbor City", "Milltown",
          "Westbrook", "Cedar Falls", "Northgate"]
COMPANIES = ["Acme Robotics", "Blue River Foods", "Northwind Energy", "Helios Chips",
             "Granite Bank", "Orbit Telecom", "Silverline Motors", "Maple Health"]
PEOPLE = ["Maria Lopez", "James Chen", "Aisha Khan", "Peter Novak", "Laura Smith",
          "David Okafor", "Emma Rossi", "Tom Becker"]
EN_TOPICS = {
    "economy": [
        "{company} reported quarterly revenue of ${num} million, up {pct} percent from a year earlier.",
        "Analysts had expected a smaller gain, citing weak consumer demand in {city}.",
        "The central bank left its benchmark rate unchanged at {small}.{small} percent on {day}.",
        "Shares of {company} rose {pct} percent in early trading before easing in the afternoon.",
        "\"We remain cautious about the second half of the year,\" said {person}, the company's chief financial officer.",
        "Retail sales in {city} grew for the third consecutive month, according to the regional statistics office.",
        "Economists said higher energy prices could weigh on household spending through the winter.",
        "The company plans to hire about {num} workers at a new distribution center near {city}.",
        "Exports of machinery and electronics accounted for most of the increase.",
        "Inflation slowed to {small}.{small} percent in October, the lowest reading since early last year.",
    ],
    "technology": [
        "{company} unveiled a new processor that it says uses {pct} percent less power than its predecessor.",
        "The chip will ship in laptops from several manufacturers starting in {day}.",
        "{person}, who leads the research team, said the design took more than three years.",
        "Engineers in {city} tested the system on weather models and medical imaging workloads.",
        "The update also fixes a security flaw that could let attackers read memory from other programs.",
        "Critics argue that the market for such devices is already crowded.",
        "The firm said it would open its software tools to outside developers later this year.",
        "Early reviewers praised the battery life but noted that the screen is hard to read in sunlight.",
        "Sales of the previous model passed {num},000 units in the first month.",
    ],
    "sports": [
        "{city} beat the visiting side {small}-{tiny} on {day}, extending their winning streak to {small} games.",
        "{person} scored twice in the second half after coming on as a substitute.",
        "The coach said the team had worked on set pieces all week in training.",
        "A crowd of {num},000 watched the match despite heavy rain.",
        "The defeat leaves the visitors {small} points behind the league leaders with ten games to play.",
        "Injuries to two starting defenders forced a late change in tactics.",
        "The club confirmed that its captain will miss the next three matches with a knee injury.",
        "Fans gathered outside the stadium hours before kickoff.",
    ],
    "weather": [
        "Forecasters warned of heavy snow across the hills north of {city} through the weekend.",
        "Up to {small}0 centimeters could fall in some areas, and travel is expected to be difficult.",
        "Temperatures will stay below freezing until {day}, the national weather service said.",
        "Schools in {city} will open two hours late on Monday.",
        "Farmers welcomed the rain after the driest summer in two decades.",
        "Officials urged residents to check on elderly neighbors and keep emergency supplies at home.",
        "River levels rose sharply overnight, but no flooding has been reported so far.",
    ],
    "health": [
        "Researchers in {city} found that a daily walk of thirty minutes lowered blood pressure in older adults.",
        "The study followed {num} volunteers for two years.",
        "{person}, a cardiologist who was not involved in the work, called the results encouraging.",
        "Hospitals reported a rise in flu cases, and doctors urged people to get vaccinated.",
        "The health ministry said it would fund {small} new clinics in rural areas.",
        "Waiting times for routine surgery fell by {pct} percent compared with last year.",
        "Experts cautioned that the findings need to be confirmed in larger trials.",
    ],
    "education": [
        "The school board in {city} approved a plan to hire {small}0 new teachers next year.",
        "Test scores in mathematics improved for the second year in a row.",
        "{person}, the district superintendent, said smaller classes had made a difference.",
        "Parents raised concerns about the cost of school meals at a public meeting on {day}.",
        "The university will offer free evening courses in computer programming to adults.",
        "Enrollment in vocational programs rose by {pct} percent.",
    ],
}
ZH_CITIES = ["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安", "南京", "重庆"]
ZH_COMPANIES = ["华星科技", "长江食品", "东方能源", "海川银行", "星河通信", "远航汽车"]
ZH_PEOPLE = ["王建国", "李明", "张伟", "刘洋", "陈静", "赵磊", "孙丽", "周强"]
ZH_TOPICS = {
    "财经": [
        "{company}今天发布季度报告，营业收入达到{num}亿元，同比增长{pct}%。",
        "分析人士认为，消费需求回暖是业绩增长的主要原因。",
        "{city}统计局数据显示，前三季度社会消费品零售总额继续保持增长。",
        "公司财务负责人{person}表示，下半年将继续加大研发投入。",
        "受此消息影响，{company}股价当天上涨{pct}%，成交量明显放大。",
        "专家提醒投资者注意市场波动风险，理性看待短期涨跌。",
        "央行表示将保持流动性合理充裕，支持实体经济发展。",
        "今年以来，{city}新增市场主体超过{num}万户。",
    ],
    "科技": [
        "{company}在{city}发布新一代芯片，功耗比上一代降低{pct}%。",
        "该芯片将于明年初在多款笔记本电脑上首发。",
        "研发负责人{person}介绍，团队历时三年完成了设计和验证。",
        "业内人士指出，国产芯片在高端市场仍面临不小的挑战。",
        "新版系统还修复了多个安全漏洞，建议用户及时升级。",
        "据介绍，该产品上市首月销量已突破{num}万台。",
        "专家认为，人工智能技术正在加速进入教育和医疗领域。",
    ],
    "体育": [
        "在昨晚结束的比赛中，{city}队以{small}比{tiny}战胜对手，取得{small}连胜。",
        "{person}在下半场替补登场后梅开二度，成为全场最佳球员。",
        "主教练赛后表示，球队在定位球方面做了大量针对性训练。",
        "尽管当天下着大雨，现场仍有{num}千名球迷观战。",
        "球队队长因膝伤将缺席接下来的三场比赛。",
        "目前该队积分暂列联赛第{small}位，距离榜首还有{tiny}分差距。",
    ],
    "天气": [
        "气象台发布寒潮预警，{city}北部山区未来三天将有大到暴雪。",
        "预计最低气温将降至零下{small}度，请市民注意防寒保暖。",
        "受降雪影响，部分高速公路路段将实行交通管制。",
        "农业部门提醒各地做好设施农业的防冻工作。",
        "持续的降雨缓解了当地今年夏季以来的旱情。",
        "气象专家表示，本次降温过程将持续到周末。",
    ],
    "教育": [
        "{city}教育局宣布，明年将新招聘教师{small}百名。",
        "今年全市中考数学平均成绩连续第二年提高。",
        "{person}校长表示，小班化教学取得了明显效果。",
        "家长们在座谈会上对学生课后服务提出了意见和建议。",
        "多所高校将面向社会开设免费的编程夜校课程。",
        "职业院校招生人数比去年增长了{pct}%。",
    ],
}
EN_BOILERPLATE = ["Click here to read more", "Subscribe to our newsletter for daily updates.",
                  "All rights reserved.", "Share this article: Facebook Twitter LinkedIn",
                  "We use cookies to improve your experience. Accept all cookies"]
ZH_BOILERPLATE = ["点击查看更多", "扫码关注我们的公众号", "我要评论", "责任编辑：张三",
                  "原标题：{title}", "本文来源：新闻网", "免责声明：本文仅代表作者观点，与本网站无关。",
                  "客服热线：400-123-4567", "QQ：12345678 微信：abc123"]
EN_SPAM = [
    "BUY NOW!!! Limited offer!!! Cheap watches, 90% off, click the link and order today!!!",
    "Earn $5000 a week from home!!! No experience needed!!! Sign up now, limited offer!!!",
    "WIN A FREE PHONE!!! Just enter your details, limited offer, BUY NOW and save big!!!",
    "casino casino casino bonus free spins best casino online play now",
    "Hot deals hot deals hot deals: shoes bags watches phones laptops cheap cheap cheap",
]
ZH_SPAM = [
    "免费领取！！！加微信abc123，限时优惠，名额有限，先到先得！！！",
    "兼职日赚500元！！！在家就能做，加QQ12345678咨询，免费领取资料！！！",
    "特价特价特价！！！手机电脑平板全场一折，点击链接立即购买！！！",
    "加微信领红包，加微信领红包，加微信领红包，免费领取，限时优惠！！！",
    "澳门线上娱乐城，注册送彩金，加微信abc123，免费领取！！！",
]
OTHER_LANG = [
    ("fr", "Le conseil municipal a adopté hier soir le budget pour l'année prochaine. "
           "Les investissements dans les transports publics augmenteront de dix pour cent. "
           "Le maire a salué un accord obtenu après de longues négociations."),
    ("fr", "La récolte de raisin a été meilleure que prévu dans la région cette année. "
           "Les viticulteurs attribuent ce résultat à un mois de septembre chaud et sec."),
    ("de", "Die Stadtverwaltung hat am Montag neue Radwege in der Innenstadt eröffnet. "
           "Nach Angaben des Bürgermeisters sollen bis zum Jahresende weitere zwölf Kilometer folgen. "
           "Anwohner begrüßten die Pläne, kritisierten aber den Wegfall von Parkplätzen."),
    ("de", "Der Wetterdienst warnt für das Wochenende vor starkem Wind an der Küste. "
           "Fähren könnten ausfallen, Reisende sollten sich vorher informieren."),
    ("es", "El ayuntamiento inauguró ayer una nueva biblioteca en el centro de la ciudad. "
           "El edificio cuenta con una sala de estudio abierta hasta la medianoche. "
           "Los vecinos llevaban más de diez años pidiendo este servicio."),
    ("es", "La selección nacional ganó su partido de clasificación por dos goles a cero. "
           "El entrenador destacó el trabajo defensivo del equipo."),
    ("ru", "В городе открылся новый парк площадью двенадцать гектаров. "
           "Мэр сообщил, что в следующем году здесь появятся спортивные площадки. "
           "Жители давно просили благоустроить этот район."),
    ("ru", "Синоптики обещают потепление к концу недели. Ночью температура останется около нуля."),
    ("ja", "市議会は昨日、来年度の予算案を可決した。公共交通への投資は一割増える見込みだ。"
           "市長は長い協議の末に合意できたことを歓迎した。"),
    ("ja", "今年のお米の収穫は平年より良かったと農協が発表した。九月の天候に恵まれたことが大きい。"),
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "March 3", "June 14", "October 21"]


def fill(template: str, zh: bool) -> str:
    return template.format(
        city=rng.choice(ZH_CITIES if zh else CITIES),
        company=rng.choice(ZH_COMPANIES if zh else COMPANIES),
        person=rng.choice(ZH_PEOPLE if zh else PEOPLE),
        num=rng.randint(12, 980), pct=rng.randint(2, 35), small=rng.randint(2, 9),
        tiny=rng.randint(0, 1), day=rng.choice(DAYS), title="{title}",
    )


def article(topic: str, zh: bool) -> tuple[str, str]:
    bank = (ZH_TOPICS if zh else EN_TOPICS)[topic]
    # Each template at most once per article, so articles do not repeat themselves.
    sentences = [fill(s, zh) for s in rng.sample(bank, k=rng.randint(4, len(bank)))]
    cuts = sorted(rng.sample(range(1, len(sentences)), k=min(2, len(sentences) - 1)))
    paragraphs = [
        ("" if zh else " ").join(sentences[a:b])
        for a, b in zip([0, *cuts], [*cuts, len(sentences)], strict=True)
    ]
    first = paragraphs[0]
    title = (first.split("，")[0].split("。")[0][:24] if zh
             else " ".join(first.split()[:8]).rstrip(",.") )
    return title, "\n\n".join(paragraphs)


def messy_zh(text: str) -> str:
    """Chinese with the ASCII punctuation and stray spaces people really type."""
    table = {"，": ",", "。": ".", "！": "!", "？": "?", "：": ":", "；": ";", "（": "(", "）": ")"}
    out = "".join(table.get(c, c) if rng.random() < 0.6 else c for c in text)
    out = out.replace("“", '"').replace("”", '"')
    if rng.random() < 0.5:
        out = out.replace("。", "...", 1)
    return out.replace("表示", "表 示", 1).replace("专家", "专 家", 1)


def messy_en(text: str) -> str:
    """English with full-width marks, curly quotes and full-width letters/digits mixed in."""
    out = text.replace(", ", "，", 2).replace(". ", "。 ", 1)
    out = out.replace('"', "“", 1).replace('"', "”", 1)
    return out + " Contact: press@example.com, 3.14 times faster, 1,000 units, 12:30 at https://news.example.com/a?b=1 ＡＢＣ１２３！！！"


def near_copy(text: str, zh: bool) -> str:
    """A light edit: a few words swapped or dropped, one sentence removed or changed."""
    if zh:
        sentences = [s for s in text.split("。") if s]
        if len(sentences) > 3:
            sentences.pop(rng.randrange(1, len(sentences) - 1))
        return "。".join(sentences).replace("表示", "指出", 1).replace("今年", "今年以来", 1) + "。"
    words = text.split(" ")
    for _ in range(max(1, len(words) // 25)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(["also", "reportedly", "again", "now"]) + " " + words[i]
    out = " ".join(words)
    return out.replace("said", "told reporters", 1)


def doc(prefix: str, n: int, text: str, title: str, category: str, lang: str) -> dict:
    return {
        "id": f"{prefix}-{n:04d}",
        "text": text,
        "title": title,
        "url": f"https://news.example.com/{lang}/{category}/{prefix}-{n:04d}.html",
        "published": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}",
        "category": category,
    }


def english(prefix: str, count: int, planted: dict) -> list[dict]:
    docs = []
    topics = list(EN_TOPICS)
    for n in range(1, count + 1):
        topic = topics[n % len(topics)]
        title, text = article(topic, zh=False)
        if n % 9 == 0:
            text += "\n" + rng.choice(EN_BOILERPLATE) + "\n" + rng.choice(EN_BOILERPLATE)
            planted["boilerplate"].append(f"{prefix}-{n:04d}")
        if n % 17 == 0:
            text = messy_en(text)
            planted["punctuation"].append(f"{prefix}-{n:04d}")
        docs.append(doc(prefix, n, text, title, topic, "en"))
    return docs


def chinese(prefix: str, count: int, planted: dict) -> list[dict]:
    docs = []
    topics = list(ZH_TOPICS)
    for n in range(1, count + 1):
        topic = topics[n % len(topics)]
        title, text = article(topic, zh=True)
        if n % 7 == 0:
            lines = [b.format(title=title) for b in rng.sample(ZH_BOILERPLATE, 2)]
            text = lines[0] + "\n" + text + "\n" + lines[1]
            planted["boilerplate"].append(f"{prefix}-{n:04d}")
        if n % 11 == 0:
            text = messy_zh(text)
            planted["punctuation"].append(f"{prefix}-{n:04d}")
        docs.append(doc(prefix, n, text, title, topic, "zh"))
    return docs


def plant(docs: list[dict], donors: list[dict], prefix: str, planted: dict, zh: bool) -> None:
    """Exact copies, near copies, spam, junk, entities, PII and mojibake, appended to docs."""
    n = len(docs)
    for k in range(4):
        src = donors[k * 7 + 3]
        n += 1
        docs.append({**src, "id": f"{prefix}-{n:04d}", "url": src["url"] + "?dup=1"})
        planted["exact_duplicate"].append(f"{prefix}-{n:04d} = {src['id']}")
    for k in range(6):
        src = donors[k * 5 + 20]
        n += 1
        docs.append({**src, "id": f"{prefix}-{n:04d}", "text": near_copy(src["text"], zh)})
        planted["near_duplicate"].append(f"{prefix}-{n:04d} ~ {src['id']}")
    for text in (ZH_SPAM if zh else EN_SPAM)[:3]:
        n += 1
        docs.append(doc(prefix, n, text, "", "ads", "zh" if zh else "en"))
        planted["spam"].append(f"{prefix}-{n:04d}")
    junk = (["好", "新闻 新闻 新闻 新闻 新闻 新闻 新闻 新闻", "首页\n首页\n首页\n首页\n首页\n首页"]
            if zh else
            ["Read more.", "home news sports weather login register contact about privacy terms",
             "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
             "Please enable JavaScript to view this page. {\"widget\": {\"id\": 42}}"])
    for text in junk:
        n += 1
        docs.append(doc(prefix, n, text, "", "junk", "zh" if zh else "en"))
        planted["low_quality"].append(f"{prefix}-{n:04d}")
    if not zh:
        for text in [
            "Fed #39;s chair said rates quot;may stay highquot; for longer &amp;amp; markets fell.<br>More at 11.",
            "<p>The mayor&nbsp;opened the new bridge on Friday.</p><p>Traffic is expected to ease.</p>",
            "Contact the reporter at jane.doe@example.com or call +1 555-010-0199. Card 4111 1111 1111 1111 was used.",
            "The cafÃ© owner said he didnâ€™t expect the crowds.\u200b\ufeff It was a great day for the town.",
        ]:
            n += 1
            docs.append(doc(prefix, n, text, "", "misc", "en"))
            planted["entities_pii_mojibake"].append(f"{prefix}-{n:04d}")
    else:
        for text in [
            "如有疑问请拨打13800138000或发邮件至service@example.cn，身份证号11010519491231002X已登记。",
            "记者在现场看到，\u200b市民排起了长队。服务器地址为192.168.1.10。",
        ]:
            n += 1
            docs.append(doc(prefix, n, text, "", "misc", "zh"))
            planted["entities_pii_mojibake"].append(f"{prefix}-{n:04d}")


def write(name: str, rows: list, encoding: str = "utf-8") -> int:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    with open(OUT / name, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0,
                                                     filename="") as gz:
        gz.write(data)
    return len(lines)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    planted: dict[str, list[str]] = {k: [] for k in (
        "exact_duplicate", "near_duplicate", "boilerplate", "punctuation", "spam",
        "low_quality", "entities_pii_mojibake", "other_language", "broken_lines")}
    en1 = english("en1", 110, planted)
    en2 = english("en2", 105, planted)
    plant(en1, en1, "en1", planted, zh=False)
    plant(en2, en1, "en2", planted, zh=False)  # cross-file duplicates
    zh1 = chinese("zh1", 140, planted)
    plant(zh1, zh1, "zh1", planted, zh=True)
    gbk = chinese("gbk", 30, planted)
    misc = []
    for n, (lang, text) in enumerate(OTHER_LANG, start=1):
        misc.append(doc("misc", n, text, "", "other", lang))
        planted["other_language"].append(f"misc-{n:04d} ({lang})")
    for n, text in enumerate([
        "Apple发布了新款iPhone，售价5,999元起 , 将于下周上市 .",
        "今天的会议讨论了AI和5G技术的发展 ,  与会者包括来自Google和华为的专家 .",
        "The 2026 World Expo in 上海 attracted 3,000,000 visitors, organizers said.",
        "他说:\"这款app的用户已经超过1,000万了!\"然后离开了...",
    ], start=len(misc) + 1):
        misc.append(doc("misc", n, text, "", "mixed", "zh"))
    en2_rows: list = list(en2)
    en2_rows.insert(5, '{"id": "en2-bad1", "text": "truncated object...')
    en2_rows.insert(40, "this line is plain text, not JSON")
    en2_rows.insert(60, json.dumps({"id": "en2-empty", "text": "", "title": "empty"}))
    en2_rows.insert(80, json.dumps({"id": "en2-notext", "title": "no text field"}))
    planted["broken_lines"] = ["en-002: line 6 malformed JSON", "en-002: line 41 plain text",
                               "en-002: line 61 empty text", "en-002: line 81 no text field"]
    counts = {
        "en-001.jsonl.gz": write("en-001.jsonl.gz", en1),
        "en-002.jsonl.gz": write("en-002.jsonl.gz", en2_rows),
        "zh-001.jsonl.gz": write("zh-001.jsonl.gz", zh1),
        "zh-gbk.jsonl.gz": write("zh-gbk.jsonl.gz", gbk, encoding="gbk"),
        "misc.jsonl.gz": write("misc.jsonl.gz", misc),
    }
    (OUT.parent / "planted.json").write_text(
        json.dumps({"lines": counts, "planted": planted}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
