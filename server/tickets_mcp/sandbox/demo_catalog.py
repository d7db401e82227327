"""Demo catalog: categories with their fields (W9), products with sub-products, and topics."""

from __future__ import annotations

from typing import Any

REGIONS = [
    ("ru-1", "St. Petersburg (ru-1)", "Санкт-Петербург (ru-1)"),
    ("ru-2", "Moscow (ru-2)", "Москва (ru-2)"),
    ("ru-3", "St. Petersburg (ru-3)", "Санкт-Петербург (ru-3)"),
    ("ru-7", "Moscow (ru-7)", "Москва (ru-7)"),
    ("ru-9", "Moscow (ru-9)", "Москва (ru-9)"),
    ("uz-1", "Tashkent (uz-1)", "Ташкент (uz-1)"),
    ("kz-1", "Almaty (kz-1)", "Алматы (kz-1)"),
]


def _names(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


def select(
    key: str, en: str, ru: str, values: list[tuple[str, str, str]], *, required: bool
) -> dict[str, Any]:
    return {
        "key": key,
        "names": _names(en, ru),
        "values": [{"key": k, "localizations": _names(v_en, v_ru)} for k, v_en, v_ru in values],
        "is_required": required,
        "type": "select",
    }


def text(key: str, en: str, ru: str, *, required: bool) -> dict[str, Any]:
    return {"key": key, "names": _names(en, ru), "values": [], "is_required": required, "type": "text"}


def category(
    id_: int,
    key: str,
    en: str,
    ru: str,
    desc_en: str,
    desc_ru: str,
    fields: list[dict[str, Any]],
    *,
    active: bool = True,
) -> dict[str, Any]:
    return {
        "id": id_,
        "key": key,
        "names": _names(en, ru),
        "descriptions": _names(desc_en, desc_ru),
        "view_priority": id_ * 10,
        "is_active": active,
        "fields": fields,
    }


CATEGORIES: list[dict[str, Any]] = [
    category(
        1,
        "cloud_servers",
        "Cloud servers",
        "Облачные серверы",
        "Creating, resizing and accessing cloud servers",
        "Создание, изменение и доступ к облачным серверам",
        [
            select("region", "Pool", "Пул", REGIONS, required=True),
            text("server_id", "Server UUID", "UUID сервера", required=False),
            select(
                "os",
                "Operating system",
                "Операционная система",
                [
                    ("ubuntu_22_04", "Ubuntu 22.04 LTS", "Ubuntu 22.04 LTS"),
                    ("ubuntu_24_04", "Ubuntu 24.04 LTS", "Ubuntu 24.04 LTS"),
                    ("debian_12", "Debian 12", "Debian 12"),
                    ("windows_2022", "Windows Server 2022", "Windows Server 2022"),
                ],
                required=False,
            ),
        ],
    ),
    category(
        2,
        "dedicated_servers",
        "Dedicated servers",
        "Выделенные серверы",
        "Hardware, replacement of components, IPMI",
        "Оборудование, замена комплектующих, IPMI",
        [
            select(
                "location",
                "Data center",
                "Дата-центр",
                [
                    ("spb_dubrovka", "SPB-2 Dubrovka", "СПБ-2 Дубровка"),
                    ("spb_tsvetochnaya", "SPB-3 Tsvetochnaya", "СПБ-3 Цветочная"),
                    ("msk_berzarina", "MSK-1 Berzarina", "МСК-1 Берзарина"),
                ],
                required=True,
            ),
            text("server_id", "Server ID", "Идентификатор сервера", required=True),
        ],
    ),
    category(
        3,
        "object_storage",
        "Object storage (S3)",
        "Объектное хранилище (S3)",
        "Buckets, access keys, S3 API",
        "Бакеты, ключи доступа, S3 API",
        [
            text("bucket", "Bucket name", "Имя бакета", required=False),
            select(
                "storage_class",
                "Storage class",
                "Класс хранения",
                [
                    ("standard", "Standard", "Стандартное"),
                    ("cold", "Cold", "Холодное"),
                    ("ice", "Ice", "Ледяное"),
                ],
                required=False,
            ),
        ],
    ),
    category(
        4,
        "billing",
        "Billing and documents",
        "Финансы и документы",
        "Payments, invoices, closing documents",
        "Платежи, счета, закрывающие документы",
        [
            select(
                "question_type",
                "Question",
                "Вопрос",
                [
                    ("invoice", "Invoice", "Счёт"),
                    ("refund", "Refund", "Возврат средств"),
                    ("payment_not_credited", "Payment not credited", "Платёж не зачислен"),
                    ("closing_documents", "Closing documents", "Закрывающие документы"),
                ],
                required=True,
            ),
            text("contract_number", "Contract number", "Номер договора", required=False),
        ],
    ),
    category(
        5,
        "dns",
        "DNS hosting",
        "DNS-хостинг",
        "Zones and records",
        "Зоны и записи",
        [text("zone", "Zone", "Зона", required=True)],
    ),
    category(
        6,
        "kubernetes",
        "Managed Kubernetes",
        "Managed Kubernetes",
        "Clusters, node groups, load balancers",
        "Кластеры, группы нод, балансировщики",
        [
            text("cluster_id", "Cluster ID", "ID кластера", required=True),
            select("region", "Pool", "Пул", REGIONS[:5], required=True),
        ],
    ),
    category(
        7,
        "network",
        "Network and connectivity",
        "Сеть и связность",
        "Routing, packet loss, private networks",
        "Маршрутизация, потери пакетов, приватные сети",
        [],
    ),
    category(
        8,
        "abuse",
        "Abuse reports",
        "Жалобы (abuse)",
        "Complaints about spam, phishing or attacks",
        "Жалобы на спам, фишинг или атаки",
        [
            select(
                "abuse_type",
                "Type",
                "Тип",
                [
                    ("spam", "Spam", "Спам"),
                    ("phishing", "Phishing", "Фишинг"),
                    ("ddos", "DDoS", "DDoS"),
                    ("copyright", "Copyright", "Авторские права"),
                ],
                required=True,
            )
        ],
    ),
    category(
        9,
        "pass_to_data_center",
        "Data center pass",
        "Пропуск в дата-центр",
        "Order a pass for a visit (templated)",
        "Заказ пропуска для посещения (шаблон)",
        [
            text("visitor_name", "Visitor full name", "ФИО посетителя", required=True),
            text("visit_date", "Visit date", "Дата визита", required=True),
        ],
    ),
    category(
        10,
        "vds_legacy",
        "VDS (archived)",
        "VDS (архив)",
        "No longer accepted",
        "Больше не принимается",
        [],
        active=False,
    ),
]


def product(id_: int, key: str, en: str, ru: str, parent: str | None = None) -> dict[str, Any]:
    return {"id": id_, "key": key, "names": _names(en, ru), "parent": parent, "view_priority": id_ * 10}


PRODUCTS: list[dict[str, Any]] = [
    product(1, "cloud_servers", "Cloud servers", "Облачные серверы"),
    product(2, "cloud_servers_standard", "Standard line", "Линейка Standard", "cloud_servers"),
    product(3, "cloud_servers_gpu", "GPU servers", "Серверы с GPU", "cloud_servers"),
    product(4, "cloud_servers_dedicated_cores", "Dedicated cores", "Выделенные ядра", "cloud_servers"),
    product(5, "dedicated_servers", "Dedicated servers", "Выделенные серверы"),
    product(6, "dedicated_fixed", "Fixed configurations", "Фиксированные конфигурации", "dedicated_servers"),
    product(7, "dedicated_custom", "Custom configurations", "Произвольные конфигурации", "dedicated_servers"),
    product(8, "s3", "Object storage S3", "Объектное хранилище S3"),
    product(9, "s3_standard", "Standard storage", "Стандартное хранилище", "s3"),
    product(10, "s3_cold", "Cold storage", "Холодное хранилище", "s3"),
    product(11, "managed_kubernetes", "Managed Kubernetes", "Managed Kubernetes"),
    product(12, "managed_databases", "Managed databases", "Облачные базы данных"),
    product(13, "postgresql", "PostgreSQL", "PostgreSQL", "managed_databases"),
    product(14, "mysql", "MySQL", "MySQL", "managed_databases"),
    product(15, "redis", "Redis", "Redis", "managed_databases"),
    product(16, "dns_hosting", "DNS hosting", "DNS-хостинг"),
    product(17, "cdn", "CDN", "CDN"),
    product(18, "vpc", "Private networks", "Частные сети"),
    product(19, "billing", "Billing", "Биллинг"),
]


def topic(key: str, en: str, ru: str, sub: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "key": key,
        "names": _names(en, ru),
        "subtopics": {"key": sub[0], "names": _names(sub[1], sub[2])},
    }


TOPICS: list[dict[str, Any]] = [
    topic(
        "order_consultation",
        "Pre-Order consultation",
        "Консультация перед заказом",
        ("servers", "Servers", "Серверы"),
    ),
    topic(
        "technical_issue",
        "Technical issue",
        "Техническая проблема",
        ("cloud", "Cloud platform", "Облачная платформа"),
    ),
    topic("billing", "Billing", "Финансовые вопросы", ("payments", "Payments", "Платежи")),
    topic(
        "documents",
        "Documents",
        "Документы",
        ("closing_documents", "Closing documents", "Закрывающие документы"),
    ),
    topic("abuse", "Abuse", "Жалобы", ("spam", "Spam", "Спам")),
]
