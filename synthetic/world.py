"""The reference world: institutions, practitioners, persons, registrations, catalogue.

Two snapshots: the first (the day before the period, it predates every event)
holds everything, including agreements/practitioners/registrations whose
begn_date lies in the future; the mid-period snapshot carries only the kinds
that changed, each complete (`mid` overrides applied to the first version;
None = the row left that catalogue).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from ingestion.contract import certno_check_digit
from synthetic import catalog

Row = dict[str, object]


@dataclass
class Institution:
    code: str
    name: str
    kind: str  # "1" hospital, "2" pharmacy
    hosp_lv: str
    region: str
    depts: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    physicians: dict[str, list[str]] = field(default_factory=dict)  # dept -> prac codes
    pharmacists: list[str] = field(default_factory=list)


@dataclass
class World:
    start: dt.date
    days: int
    ref0: dt.date
    ref_mid: dt.date
    rows0: dict[str, dict[str, Row]] = field(default_factory=dict)
    mid: dict[str, dict[str, Row | None]] = field(default_factory=dict)
    institutions: dict[str, Institution] = field(default_factory=dict)
    hospitals: list[str] = field(default_factory=list)  # background-usable
    pharmacies: list[str] = field(default_factory=list)  # background-usable
    prac_names: dict[str, str] = field(default_factory=dict)
    items_by_class: dict[str, list[str]] = field(default_factory=dict)
    herbs: list[str] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)  # name -> code
    consumables: dict[str, str] = field(default_factory=dict)
    item_class: dict[str, str] = field(default_factory=dict)
    base_price: dict[str, Decimal] = field(default_factory=dict)
    diseases: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code -> name, chapter, class
    diseases_by_class: dict[str, list[str]] = field(default_factory=dict)
    n_persons: int = 0
    bg_persons: int = 0
    seq: dict[str, int] = field(default_factory=dict)

    def next(self, name: str) -> int:
        self.seq[name] = self.seq.get(name, 0) + 1
        return self.seq[name]

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)

    def day(self, i: int) -> dt.date:
        return self.start + dt.timedelta(days=i)

    # ---- history ------------------------------------------------------------------
    def as_of(self, kind: str, key: str, d: dt.date) -> Row | None:
        if kind in self.mid and self.mid[kind] and d >= self.ref_mid:
            if key in self.mid[kind]:
                return self.mid[kind][key]
        return self.rows0[kind].get(key)

    def latest(self, kind: str, key: str) -> Row | None:
        return self.as_of(kind, key, dt.date.max)

    def change(self, kind: str, key: str, **changes: object) -> None:
        """Record a mid-period new version of a row (or removal with remove=True)."""
        self.mid.setdefault(kind, {})
        if changes.pop("remove", False):
            self.mid[kind][key] = None
            return
        base = dict(self.mid[kind].get(key) or self.rows0[kind][key])
        base.update(changes)
        self.mid[kind][key] = base

    def snapshot(self, kind: str, which: str) -> list[Row]:
        rows = dict(self.rows0[kind])
        if which == "mid":
            for k, v in self.mid.get(kind, {}).items():
                if v is None:
                    rows.pop(k, None)
                else:
                    rows[k] = v
        return list(rows.values())

    # ---- helpers used by the event builders ------------------------------------------
    def person(self, psn: str, d: dt.date | None = None) -> Row:
        row = self.as_of("ref_psn", psn, d or self.start)
        assert row is not None
        return row

    def item(self, code: str, d: dt.date) -> Row:
        row = self.as_of("ref_med_list", code, d)
        assert row is not None, code
        return row

    def registrations(self, psn: str) -> list[Row]:
        return [r for k, r in self.rows0["ref_psn_special_dise"].items() if k.startswith(psn + "|")]

    # ---- construction of plant-specific entities ---------------------------------------
    def add_person(self, rng: random.Random, gend: str, brdy: dt.date, insutype: str | None = None,
                   death: dt.date | None = None) -> str:
        n = self.n_persons = self.n_persons + 1
        psn = f"33020{n:015d}"
        region = rng.choice(catalog.REGIONS)
        seq = rng.randrange(0, 500) * 2 + (1 if gend == "1" else 0)  # GB 11643: odd = male
        seq = seq if seq < 1000 else seq - 2
        first17 = f"{region}{brdy:%Y%m%d}{seq:03d}"
        name = rng.choice(catalog.SURNAMES) + "".join(rng.choice(catalog.GIVEN) for _ in range(rng.choice((1, 2))))
        self.rows0["ref_psn"][psn] = {
            "psn_no": psn, "certno": first17 + certno_check_digit(first17), "psn_name": name, "gend": gend,
            "brdy": brdy, "insutype": insutype or rng.choice(("310", "310", "390")),
            "psn_type": rng.choice(("11", "21", "31")), "insu_admdvs": region, "death_date": death,
        }
        return psn

    def add_registration(self, psn: str, dise_type: str, begn: dt.date, end: dt.date | None = None,
                         dise_codg: str | None = None) -> None:
        self.rows0["ref_psn_special_dise"][f"{psn}|{dise_type}"] = {
            "psn_no": psn, "dise_type": dise_type,
            "dise_codg": dise_codg or catalog.SPECIAL_DISEASES[dise_type][0], "begn_date": begn, "end_date": end,
        }

    def add_institution(self, rng: random.Random, kind: str, hosp_lv: str, begn: dt.date,
                        end: dt.date | None = None, region: str | None = None) -> Institution:
        region = region or rng.choice(catalog.REGIONS)
        n = self.next(f"inst{region}")
        code = f"{'H' if kind == '1' else 'P'}{region}{n:05d}"
        rname = catalog.REGION_NAMES[region]
        if kind == "1":
            name = f"宁波市{rname}{['', '社区卫生服务中心', '第二人民医院', '第一医院'][int(hosp_lv)]}{n}"
            if n % 7 == 3:
                name = f"{name},东院"  # a comma: the field must be quoted
        else:
            name = f"{rname}惠民大药房{n}号店"
            if n % 9 == 4:
                name = f"{name}\n(24小时营业)"  # a quoted line break inside a field (RFC 4180)
        inst = Institution(code, name, kind, hosp_lv, region)
        self.institutions[code] = inst
        self.rows0["ref_medins"][code] = {
            "fixmedins_code": code, "fixmedins_name": name, "fixmedins_type": kind, "hosp_lv": hosp_lv,
            "admdvs": region, "begn_date": begn, "end_date": end,
        }
        if kind == "1":
            depts = [d for d in catalog.DEPARTMENTS if hosp_lv == "3" or d[0] in ("A03", "A04", "A07", "A50", "A02", "A05")]
            if hosp_lv == "1":
                depts = [d for d in depts if d[0] in ("A03", "A07", "A50", "A05")]
            inst.depts = depts
            for dc, _dn, _cls in depts:
                inst.physicians[dc] = [self.add_practitioner(rng, inst, "1", dc, dt.date(2015, 1, 1))
                                       for _ in range(2 if hosp_lv == "1" else 3)]
            inst.pharmacists = [self.add_practitioner(rng, inst, "2", "A03", dt.date(2016, 1, 1))]
        else:
            inst.pharmacists = [self.add_practitioner(rng, inst, "2", None, dt.date(2016, 1, 1)) for _ in range(2)]
        return inst

    def add_practitioner(self, rng: random.Random, inst: Institution, prac_type: str, dept: str | None,
                         begn: dt.date, end: dt.date | None = None) -> str:
        n = self.next(f"prac{prac_type}{inst.region}")
        code = f"{'D' if prac_type == '1' else 'Y'}{inst.region}{n:06d}"
        name = rng.choice(catalog.SURNAMES) + "".join(rng.choice(catalog.GIVEN) for _ in range(2))
        self.prac_names[code] = name
        self.rows0["ref_practitioner"][code] = {
            "prac_codg": code, "prac_name": name, "prac_type": prac_type, "fixmedins_code": inst.code,
            "dept_codg": dept, "begn_date": begn, "end_date": end,
        }
        return code


def build_world(rng: random.Random, start: dt.date, days: int, n_hospitals: int, n_pharmacies: int,
                n_persons: int) -> World:
    w = World(start=start, days=days, ref0=start - dt.timedelta(days=1), ref_mid=start + dt.timedelta(days=days // 2))
    for k in ("ref_psn", "ref_psn_special_dise", "ref_medins", "ref_practitioner", "ref_med_list", "ref_disease"):
        w.rows0[k] = {}
    for code, name, chapter, cls in catalog.DISEASES:
        w.diseases[code] = (name, chapter, cls)
        w.diseases_by_class.setdefault(cls, []).append(code)
        w.rows0["ref_disease"][code] = {"dise_codg": code, "dise_name": name, "chapter": chapter}
    _build_catalogue(w, rng)
    levels = ["3"] * (n_hospitals // 5) + ["2"] * (n_hospitals // 3)
    levels += ["1"] * (n_hospitals - len(levels))
    for lv in levels:
        w.hospitals.append(w.add_institution(rng, "1", lv, dt.date(2019, 1, 1)).code)
    for _ in range(n_pharmacies):
        w.pharmacies.append(w.add_institution(rng, "2", "9", dt.date(2020, 7, 1)).code)
    for _ in range(n_persons):
        age_days = int(rng.triangular(200, 33000, 15000))
        brdy = start - dt.timedelta(days=age_days)
        if brdy.month == 2 and brdy.day == 29:
            brdy = brdy - dt.timedelta(days=1)
        psn = w.add_person(rng, rng.choice("12"), brdy)
        if rng.random() < 0.06 and age_days > 30 * 365:
            t = rng.choice(("DIALYSIS", "DIABETES", "DIABETES", "HYPERTENSION", "HYPERTENSION", "TUMOR", "HEMIPLEGIA"))
            w.add_registration(psn, t, start - dt.timedelta(days=rng.randrange(60, 1500)),
                               dise_codg=rng.choice(catalog.SPECIAL_DISEASES[t]))
    w.bg_persons = w.n_persons
    return w


def _add_item(w: World, code: str, name: str, list_type: str, lv: str, spec: str, unit: str, base: Decimal,
              cap: Decimal | None, cls: str = "", gend: str | None = None, amin: int | None = None,
              amax: int | None = None, dise: str | None = None, max_days: int | None = None,
              precious: str = "0") -> None:
    w.rows0["ref_med_list"][code] = {
        "med_list_codg": code, "med_list_name": name, "list_type": list_type, "chrgitm_lv": lv, "spec": spec,
        "unit": unit, "max_pric": cap, "lmt_gend": gend, "lmt_age_min": amin, "lmt_age_max": amax,
        "lmt_dise_codes": dise, "max_days": max_days, "precious_flag": precious,
    }
    w.base_price[code] = base
    w.item_class[code] = cls


def _cap(rng: random.Random, base: Decimal) -> Decimal | None:
    return None if rng.random() < 0.15 else (base * Decimal(rng.choice(("1.1", "1.2", "1.3")))).quantize(Decimal("0.01"))


def _build_catalogue(w: World, rng: random.Random) -> None:
    n = 0
    for name, cls, dise, gend, amin, amax, maxd, price in catalog.DRUGS:
        for s, spec in enumerate(catalog.DRUG_SPECS[: rng.choice((2, 3, 4))]):
            n += 1
            code = f"XA{n:04d}{s:02d}0010101"
            base = Decimal(price) * (1 + s)
            _add_item(w, code, f"{name}({spec})", "101", rng.choice("112"), spec, "片", base, _cap(rng, base),
                      cls, gend, amin, amax, dise, maxd)
            w.items_by_class.setdefault(cls, []).append(code)
    for i, (name, price) in enumerate(catalog.HERBS + catalog.PRECIOUS_HERBS, 1):
        code = f"T{i:06d}"
        base = Decimal(price)
        precious = "1" if (name, price) in catalog.PRECIOUS_HERBS else "0"
        _add_item(w, code, name, "102", "3" if precious == "1" else "1", "饮片", "克", base,
                  (base * Decimal("1.25")).quantize(Decimal("0.0001")), precious=precious)
        if precious == "0":
            w.herbs.append(code)
    for i, (name, gend, price, lv) in enumerate(catalog.SERVICES, 1):
        code = f"00{110000 + i * 13:07d}"
        base = Decimal(price)
        _add_item(w, code, name, "201", lv, "", "次", base, _cap(rng, base) if i > 3 else base, gend=gend)
        w.services[name] = code
    for i, (name, price) in enumerate(catalog.CONSUMABLES, 1):
        code = f"C{i:013d}"
        base = Decimal(price)
        _add_item(w, code, name, "301", "2", "个", "个", base, _cap(rng, base))
        w.consumables[name] = code
