"""Static realism: ICD-10 diseases, the catalogue items, names and departments.

Everything here is plain data; the generator draws from it with a seeded RNG.
Each disease carries a therapeutic class so background prescriptions only pick
drugs that fit the diagnosis (and restricted drugs only where their indication
prefixes match), which is what keeps the background clean for R06.
"""

from __future__ import annotations

# (dise_codg, dise_name, chapter, therapeutic class)
DISEASES: list[tuple[str, str, str, str]] = [
    ("J06.900", "急性上呼吸道感染", "J00-J99 呼吸系统疾病", "resp"),
    ("J02.900", "急性咽炎", "J00-J99 呼吸系统疾病", "resp"),
    ("J20.900", "急性支气管炎", "J00-J99 呼吸系统疾病", "resp"),
    ("J18.900", "肺炎", "J00-J99 呼吸系统疾病", "resp"),
    ("J45.900", "支气管哮喘", "J00-J99 呼吸系统疾病", "resp"),
    ("J44.100", "慢性阻塞性肺病伴急性加重", "J00-J99 呼吸系统疾病", "resp"),
    ("K29.700", "胃炎", "K00-K93 消化系统疾病", "gi"),
    ("K21.000", "胃食管反流病伴食管炎", "K00-K93 消化系统疾病", "gi"),
    ("K25.900", "胃溃疡", "K00-K93 消化系统疾病", "gi"),
    ("K35.800", "急性阑尾炎", "K00-K93 消化系统疾病", "gi"),
    ("K80.200", "胆囊结石", "K00-K93 消化系统疾病", "gi"),
    ("K59.000", "便秘", "K00-K93 消化系统疾病", "gi"),
    ("I10.x00", "原发性高血压", "I00-I99 循环系统疾病", "cardio"),
    ("I20.000", "不稳定型心绞痛", "I00-I99 循环系统疾病", "cardio"),
    ("I25.100", "动脉粥样硬化性心脏病", "I00-I99 循环系统疾病", "cardio"),
    ("I48.x00", "心房颤动", "I00-I99 循环系统疾病", "cardio"),
    ("I63.900", "脑梗死", "I00-I99 循环系统疾病", "neuro"),
    ("I69.300", "脑梗死后遗症", "I00-I99 循环系统疾病", "neuro"),
    ("E11.900", "2型糖尿病", "E00-E90 内分泌、营养和代谢疾病", "diab"),
    ("E11.200", "2型糖尿病性肾病", "E00-E90 内分泌、营养和代谢疾病", "diab"),
    ("E10.900", "1型糖尿病", "E00-E90 内分泌、营养和代谢疾病", "diab"),
    ("E78.500", "高脂血症", "E00-E90 内分泌、营养和代谢疾病", "cardio"),
    ("E03.900", "甲状腺功能减退症", "E00-E90 内分泌、营养和代谢疾病", "general"),
    ("N18.500", "慢性肾脏病5期", "N00-N99 泌尿生殖系统疾病", "renal"),
    ("N18.400", "慢性肾脏病4期", "N00-N99 泌尿生殖系统疾病", "renal"),
    ("N39.000", "泌尿道感染", "N00-N99 泌尿生殖系统疾病", "uro"),
    ("N40.x00", "前列腺增生", "N00-N99 泌尿生殖系统疾病", "uro"),
    ("N76.000", "急性阴道炎", "N00-N99 泌尿生殖系统疾病", "gyn"),
    ("N92.000", "月经过多", "N00-N99 泌尿生殖系统疾病", "gyn"),
    ("O26.900", "妊娠相关情况", "O00-O99 妊娠、分娩和产褥期", "gyn"),
    ("C34.900", "肺恶性肿瘤", "C00-D48 肿瘤", "tumor"),
    ("C16.900", "胃恶性肿瘤", "C00-D48 肿瘤", "tumor"),
    ("C50.900", "乳房恶性肿瘤", "C00-D48 肿瘤", "tumor"),
    ("C18.900", "结肠恶性肿瘤", "C00-D48 肿瘤", "tumor"),
    ("C22.000", "肝细胞癌", "C00-D48 肿瘤", "tumor"),
    ("M54.500", "腰痛", "M00-M99 肌肉骨骼系统和结缔组织疾病", "msk"),
    ("M17.900", "膝关节病", "M00-M99 肌肉骨骼系统和结缔组织疾病", "msk"),
    ("M47.800", "颈椎病", "M00-M99 肌肉骨骼系统和结缔组织疾病", "msk"),
    ("M81.900", "骨质疏松", "M00-M99 肌肉骨骼系统和结缔组织疾病", "msk"),
    ("L30.900", "皮炎", "L00-L99 皮肤和皮下组织疾病", "derm"),
    ("L50.900", "荨麻疹", "L00-L99 皮肤和皮下组织疾病", "derm"),
    ("H10.900", "结膜炎", "H00-H59 眼和附器疾病", "general"),
    ("R51.x00", "头痛", "R00-R99 症状、体征和临床与实验室异常所见", "general"),
    ("R50.900", "发热", "R00-R99 症状、体征和临床与实验室异常所见", "resp"),
    ("S93.400", "踝关节扭伤", "S00-T98 损伤、中毒和外因的某些其他后果", "msk"),
    ("S52.500", "桡骨远端骨折", "S00-T98 损伤、中毒和外因的某些其他后果", "msk"),
    ("Z51.100", "肿瘤化学治疗疗程", "Z00-Z99 影响健康状态和与保健机构接触的因素", "tumor"),
]

# Diseases suitable for each special-disease registration type (门特病种).
SPECIAL_DISEASES: dict[str, list[str]] = {
    "DIALYSIS": ["N18.500"],
    "DIABETES": ["E11.900", "E11.200"],
    "HYPERTENSION": ["I10.x00"],
    "TUMOR": ["C34.900", "C16.900", "C50.900", "C18.900"],
    "HEMIPLEGIA": ["I69.300"],
}

# Drugs (list_type 101): (name, class, lmt_dise_codes, lmt_gend, age_min, age_max, max_days, base price)
DRUGS: list[tuple[str, str, str | None, str | None, int | None, int | None, int | None, str]] = [
    ("阿莫西林胶囊", "resp", None, None, None, None, None, "0.42"),
    ("头孢呋辛酯片", "resp", None, None, None, None, 5, "1.85"),
    ("左氧氟沙星片", "resp", None, None, 18, None, 7, "2.10"),
    ("复方甘草片", "resp", None, None, None, None, None, "0.08"),
    ("氨溴索口服溶液", "resp", None, None, None, None, None, "0.95"),
    ("布地奈德吸入气雾剂", "resp", "J45|J44", None, None, None, None, "58.60"),
    ("小儿氨酚黄那敏颗粒", "resp", None, None, None, 14, None, "0.65"),
    ("布洛芬混悬液", "resp", None, None, None, 12, None, "0.22"),
    ("连花清瘟胶囊", "resp", None, None, None, None, None, "0.56"),
    ("奥美拉唑肠溶胶囊", "gi", None, None, None, None, None, "0.75"),
    ("雷贝拉唑钠肠溶片", "gi", "K21|K25|K26|K29", None, None, None, None, "3.20"),
    ("铝碳酸镁咀嚼片", "gi", None, None, None, None, None, "0.48"),
    ("莫沙必利片", "gi", None, None, None, None, None, "1.10"),
    ("乳果糖口服溶液", "gi", None, None, None, None, None, "0.30"),
    ("氨氯地平片", "cardio", None, None, None, None, None, "0.52"),
    ("缬沙坦胶囊", "cardio", None, None, None, None, None, "1.35"),
    ("美托洛尔缓释片", "cardio", None, None, None, None, None, "0.98"),
    ("阿托伐他汀钙片", "cardio", "I20|I25|I63|E78", None, None, None, None, "1.60"),
    ("氯吡格雷片", "cardio", "I20|I25|I63", None, None, None, None, "3.05"),
    ("华法林钠片", "cardio", "I48", None, None, None, None, "0.35"),
    ("二甲双胍片", "diab", None, None, None, None, None, "0.18"),
    ("阿卡波糖片", "diab", "E10|E11", None, None, None, None, "1.12"),
    ("门冬胰岛素注射液", "diab", "E10|E11", None, None, None, 30, "46.80"),
    ("达格列净片", "diab", "E11", None, None, None, None, "4.35"),
    ("重组人促红素注射液", "renal", "N18", None, None, None, None, "38.00"),
    ("碳酸司维拉姆片", "renal", "N18", None, None, None, None, "6.20"),
    ("骨化三醇胶丸", "renal", None, None, None, None, None, "1.45"),
    ("吉非替尼片", "tumor", "C34", None, None, None, None, "54.50"),
    ("卡培他滨片", "tumor", "C16|C18|C50", None, None, None, None, "12.60"),
    ("甲地孕酮片", "tumor", "C50", "2", None, None, None, "2.80"),
    ("昂丹司琼片", "tumor", None, None, None, None, None, "2.05"),
    ("塞来昔布胶囊", "msk", None, None, 18, None, None, "2.30"),
    ("双氯芬酸钠缓释片", "msk", None, None, None, None, None, "0.65"),
    ("阿仑膦酸钠片", "msk", "M81", None, None, None, None, "4.90"),
    ("甲钴胺片", "neuro", None, None, None, None, None, "0.62"),
    ("丁苯酞软胶囊", "neuro", "I63", None, None, None, None, "9.80"),
    ("盐酸坦索罗辛缓释胶囊", "uro", None, "1", None, None, None, "2.40"),
    ("非那雄胺片", "uro", "N40", "1", None, None, None, "3.60"),
    ("呋喃妥因肠溶片", "uro", None, None, None, None, 7, "0.40"),
    ("黄体酮胶囊", "gyn", None, "2", None, None, None, "3.10"),
    ("甲硝唑阴道泡腾片", "gyn", None, "2", None, None, 7, "0.90"),
    ("氯雷他定片", "derm", None, None, None, None, None, "0.85"),
    ("糠酸莫米松乳膏", "derm", None, None, None, None, None, "16.20"),
    ("左甲状腺素钠片", "general", None, None, None, None, None, "0.58"),
    ("对乙酰氨基酚片", "general", None, None, None, None, None, "0.12"),
    ("玻璃酸钠滴眼液", "general", None, None, None, None, None, "14.50"),
]
DRUG_SPECS = ["片/粒(小规格)", "片/粒(中规格)", "片/粒(大规格)", "盒装"]

HERBS: list[tuple[str, str]] = [
    (n, p) for n, p in [
        ("黄芪", "0.12"), ("党参", "0.18"), ("白术", "0.10"), ("茯苓", "0.08"), ("甘草", "0.06"),
        ("当归", "0.22"), ("川芎", "0.09"), ("白芍", "0.07"), ("熟地黄", "0.08"), ("生地黄", "0.07"),
        ("柴胡", "0.15"), ("黄芩", "0.09"), ("半夏", "0.20"), ("陈皮", "0.05"), ("枳壳", "0.06"),
        ("厚朴", "0.07"), ("桂枝", "0.05"), ("麻黄", "0.06"), ("杏仁", "0.09"), ("桔梗", "0.08"),
        ("金银花", "0.30"), ("连翘", "0.14"), ("板蓝根", "0.05"), ("菊花", "0.16"), ("薄荷", "0.05"),
        ("丹参", "0.07"), ("红花", "0.35"), ("桃仁", "0.12"), ("牛膝", "0.09"), ("杜仲", "0.10"),
        ("枸杞子", "0.20"), ("山药", "0.06"), ("山茱萸", "0.18"), ("泽泻", "0.05"), ("牡丹皮", "0.10"),
        ("麦冬", "0.25"), ("五味子", "0.19"), ("酸枣仁", "0.55"), ("远志", "0.30"), ("石菖蒲", "0.08"),
        ("葛根", "0.05"), ("天麻", "0.95"), ("钩藤", "0.09"), ("决明子", "0.04"), ("黄连", "0.60"),
        ("黄柏", "0.07"), ("知母", "0.08"), ("玄参", "0.06"), ("沙参", "0.12"), ("玉竹", "0.10"),
        ("白芷", "0.06"), ("防风", "0.16"), ("羌活", "0.40"), ("独活", "0.09"), ("木香", "0.11"),
        ("砂仁", "0.85"), ("鸡内金", "0.20"), ("神曲", "0.04"), ("大枣", "0.03"), ("生姜", "0.02"),
    ]
]
PRECIOUS_HERBS: list[tuple[str, str]] = [("西洋参", "1.80"), ("三七粉", "2.40"), ("冬虫夏草", "98.00")]

# Services (list_type 201): (name, lmt_gend, base price, chrgitm_lv); the first three are structural.
SERVICES: list[tuple[str, str | None, str, str]] = [
    ("普通门诊诊查费", None, "10.00", "1"), ("急诊诊查费", None, "15.00", "1"),
    ("住院诊查费", None, "20.00", "1"), ("床位费(三人间)", None, "45.00", "1"),
    ("Ⅱ级护理", None, "22.00", "1"), ("血液透析", None, "420.00", "1"),
    ("静脉输液", None, "8.00", "1"), ("肌肉注射", None, "3.00", "1"),
    ("血常规检查", None, "18.00", "1"), ("尿常规检查", None, "10.00", "1"),
    ("肝功能检测", None, "45.00", "1"), ("肾功能检测", None, "30.00", "1"),
    ("血糖测定", None, "8.00", "1"), ("糖化血红蛋白测定", None, "50.00", "1"),
    ("心电图检查", None, "25.00", "1"), ("胸部X线摄影", None, "60.00", "1"),
    ("胸部CT平扫", None, "180.00", "1"), ("腹部彩色多普勒超声", None, "120.00", "1"),
    ("头颅磁共振平扫", None, "480.00", "2"), ("胃镜检查", None, "260.00", "2"),
    ("针刺", None, "22.00", "1"), ("推拿治疗", None, "35.00", "1"), ("拔罐", None, "12.00", "1"),
    ("中药饮片调剂费", None, "1.50", "1"), ("换药(小)", None, "15.00", "1"),
    ("清创缝合", None, "80.00", "1"), ("雾化吸入", None, "12.00", "1"),
    ("妇科检查", "2", "15.00", "1"), ("阴道分泌物检查", "2", "18.00", "1"),
    ("经阴道彩色多普勒超声", "2", "130.00", "1"), ("前列腺特异抗原测定", "1", "75.00", "1"),
    ("经直肠前列腺超声", "1", "120.00", "1"), ("肿瘤标志物测定", None, "90.00", "1"),
    ("化疗药物配置", None, "30.00", "1"), ("康复评定", None, "40.00", "1"),
    ("运动疗法", None, "55.00", "1"), ("骨密度测定", None, "80.00", "2"),
    ("动态血压监测", None, "150.00", "2"), ("肺功能检查", None, "110.00", "1"),
    ("眼底检查", None, "20.00", "1"), ("美容护肤", None, "200.00", "3"),
]
CONSUMABLES: list[tuple[str, str]] = [
    ("一次性输液器", "3.50"), ("留置针", "12.00"), ("医用纱布块", "1.20"), ("无菌注射器", "0.80"),
    ("医用胶带", "2.50"), ("导尿包", "28.00"), ("透析器", "160.00"), ("透析管路", "85.00"),
    ("血糖试纸", "2.60"), ("采血针", "0.50"), ("雾化面罩", "9.00"), ("医用外科口罩", "0.60"),
    ("弹力绷带", "15.00"), ("石膏绷带", "22.00"), ("中心静脉导管", "380.00"), ("吸氧管", "4.00"),
]

# Departments (dept_codg per the national department code table, dept_name); the
# classes each department treats decide which diagnoses its physicians write.
DEPARTMENTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("A03", "内科", ("resp", "gi", "cardio", "diab", "general", "neuro")),
    ("A04", "外科", ("gi", "msk", "uro")),
    ("A05", "妇产科", ("gyn",)),
    ("A07", "儿科", ("resp", "gi", "general")),
    ("A50", "中医科", ("msk", "gi", "general", "resp")),
    ("A02", "急诊医学科", ("resp", "msk", "general", "cardio")),
    ("A19", "肿瘤科", ("tumor",)),
    ("A0305", "肾病学专业", ("renal",)),
    ("A12", "皮肤科", ("derm",)),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文斌志红玉梅林波宇浩凯鑫晨欣怡子涵梓萱一诺宇轩浩然俊杰思远佳琪雨桐昕瑶婷颖琳雪"
REGIONS = ["330203", "330205", "330206", "330211", "330212", "330213"]
REGION_NAMES = {"330203": "海曙区", "330205": "江北区", "330206": "北仑区", "330211": "镇海区",
                "330212": "鄞州区", "330213": "奉化区"}
