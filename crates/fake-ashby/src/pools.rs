//! The words the generator draws from: names, titles, companies and the awkward values real
//! Ashby accounts contain.
//!
//! Kept apart from the generator so the generator reads as structure and this file as data.
//! The awkward lists are deliberately hostile to spreadsheets and text pipelines: emoji, CJK,
//! right-to-left scripts, strings a spreadsheet would take for formulas, and numeric-looking
//! strings whose leading zeros must survive.

/// Everyday first names from many languages, with diacritics where the name has them.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Alice",
    "Bram",
    "Chen",
    "Dana",
    "Elif",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jamal",
    "Kenji",
    "Lena",
    "Mateo",
    "Nadia",
    "Oluwaseun",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tamar",
    "Umar",
    "Valentina",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Siobhán",
    "José",
    "Björn",
    "Łukasz",
    "François",
    "Ngozi",
    "Aarav",
    "Mei",
    "Dmitri",
    "Ingrid",
    "Sam",
    "Riley",
    "Jordan",
    "Alex",
    "Maria",
    "Ahmed",
    "Sofia",
    "Lucas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Ava",
    "Mohammed",
];

/// Everyday last names, including particles, apostrophes and hyphens.
pub(crate) const LAST_NAMES: &[&str] = &[
    "Anderson",
    "Okafor",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "Smith",
    "O'Brien",
    "Rossi",
    "Tanaka",
    "Haddad",
    "Cohen",
    "Silva",
    "Johansson",
    "Petrov",
    "Dubois",
    "Núñez",
    "van der Berg",
    "Fernández-López",
    "Kim",
    "Patel",
    "Mensah",
    "Nakamura",
    "Ivanova",
    "Schmidt",
    "Brown",
    "Dvořák",
    "Jones",
    "Williams",
    "Lee",
    "Martin",
    "Bernard",
    "Novak",
    "Hansen",
    "Yilmaz",
    "Costa",
    "de Jong",
    "Walker",
    "Lopez",
    "Chatterjee",
];

/// Candidate names with emoji, CJK and other non-Latin or heavily accented scripts.
pub(crate) const UNICODE_NAMES: &[&str] = &[
    "Zoë Ñúñez 🚀",
    "王小明",
    "田中 太郎",
    "김민준",
    "Ólafur Þórsson",
    "Renée O'Connor-Łukasik",
    "Chloé 🌸 Dupont",
    "Nguyễn Thị Minh Khai",
    "Jürgen Groß",
    "Ana-María de la Cruz y Peña",
    "Δημήτρης Παπαδόπουλος",
    "Сергей Иванов",
];

/// Candidate names in right-to-left scripts (Arabic, Hebrew), one mixed with Latin.
pub(crate) const RTL_NAMES: &[&str] =
    &["محمد الأحمد", "נועה כהן", "فاطمة الزهراء", "אורי לוי", "نور الهدى", "Yasmin بن علي"];

/// Values a spreadsheet would evaluate or reinterpret if written as typed text.
pub(crate) const FORMULA_LIKE: &[&str] = &[
    "=1+1",
    "@x",
    "-5",
    "+SUM(A1:A3)",
    "=HYPERLINK(\"https://example.com\",\"click me\")",
    "=cmd|' /C calc'!A0",
    "+44 20 7946 0000",
];

/// Job positions candidates hold.
pub(crate) const POSITIONS: &[&str] = &[
    "Software Engineer",
    "Senior Software Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Product Manager",
    "Product Designer",
    "Data Scientist",
    "Data Analyst",
    "Account Executive",
    "Sales Development Representative",
    "Customer Success Manager",
    "Recruiter",
    "Marketing Manager",
    "DevOps Engineer",
    "QA Engineer",
    "Finance Analyst",
    "Legal Counsel",
    "Operations Lead",
    "Ingénieure logiciel",
    "Softwareentwickler (m/w/d)",
];

/// Companies candidates work for.
pub(crate) const COMPANIES: &[&str] = &[
    "Example Corp",
    "Globex",
    "Initech",
    "Umbrella Analytics",
    "Hooli",
    "Stark Industries GmbH",
    "Wayne Enterprises",
    "Acme, Inc.",
    "Soylent & Co",
    "Tyrell S.A.",
    "株式会社サンプル",
    "Müller & Söhne KG",
    "Freelance",
    "Self-employed",
];

/// Schools candidates attended.
pub(crate) const SCHOOLS: &[&str] = &[
    "Example University",
    "Technische Universität Berlin",
    "University of Lagos",
    "Universidad de Buenos Aires",
    "Indian Institute of Technology Bombay",
    "École Polytechnique",
    "Tsinghua University",
    "University of Toronto",
    "Self-taught",
];

/// Job titles; a few with gender suffixes, parentheses or non-Latin text, as real boards have.
pub(crate) const JOB_TITLES: &[&str] = &[
    "Backend Engineer",
    "Frontend Engineer",
    "Senior Backend Engineer",
    "Staff Platform Engineer",
    "Data Engineer",
    "Machine Learning Engineer",
    "Product Manager, Growth",
    "Senior Product Designer",
    "Account Executive, DACH",
    "Sales Development Representative",
    "Customer Success Manager",
    "Technical Recruiter",
    "People Partner",
    "Financial Controller",
    "Legal Counsel (Privacy)",
    "Security Engineer",
    "Site Reliability Engineer",
    "Marketing Manager (m/w/d)",
    "ソフトウェアエンジニア",
    "Ingénieur·e Data",
    "Engineering Manager, Payments",
    "Solutions Architect",
];

/// Time zones candidates give.
pub(crate) const TIME_ZONES: &[&str] = &[
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Africa/Lagos",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Asia/Jerusalem",
];

/// (country, region, city) triples for candidate locations.
pub(crate) const PLACES: &[(&str, &str, &str)] = &[
    ("United States", "California", "San Francisco"),
    ("United States", "California", "Oakland"),
    ("United States", "New York", "Brooklyn"),
    ("Germany", "Berlin", "Berlin"),
    ("Germany", "Bavaria", "München"),
    ("United Kingdom", "England", "London"),
    ("France", "Île-de-France", "Paris"),
    ("Nigeria", "Lagos", "Lagos"),
    ("India", "Karnataka", "Bengaluru"),
    ("Japan", "Tokyo", "東京"),
    ("Brazil", "São Paulo", "São Paulo"),
    ("Israel", "Tel Aviv District", "Tel Aviv"),
];

/// Browser user agents of applicants.
pub(crate) const USER_AGENTS: &[&str] = &[
    concat!(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ",
        "Chrome/124.0 Safari/537.36"
    ),
    concat!(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) ",
        "Version/17.4 Safari/605.1.15"
    ),
    concat!(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 ",
        "(KHTML, like Gecko) Mobile/15E148"
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
];

/// Short recruiter notes; several lines, quotes, commas and tabs, as pasted text has.
pub(crate) const NOTES: &[&str] = &[
    "Strong systems background.\nWants to move into management within 2 years.",
    "Phone screen went well; \"very clear communicator\", follow up re: notice period.",
    "Referred by a former colleague.\tPrefers remote, open to 2 days/week in office.",
    "Asked about equity refresh policy, relocation budget, and visa timeline.",
    "Great portfolio 👍 — ask about the payments redesign case study.",
    "Kandidat spricht fließend Deutsch und Englisch; Gehaltsvorstellung über Band.",
];

/// One paragraph of a very long note; repeated past the 32,767-character limit of an Excel
/// cell and the 50,000-character limit of a Sheets cell.
pub(crate) const LONG_NOTE_PARAGRAPH: &str = "Debrief transcript excerpt. The panel discussed \
    the candidate's design of an event-sourced ledger, the trade-offs between consistency and \
    availability they described, and how they handled a production incident involving \
    duplicated payouts. Opinions differed on seniority; see individual scorecards. ";

/// The length a very long note is padded to (beyond every spreadsheet's cell limit).
pub(crate) const LONG_NOTE_CHARS: usize = 52_000;

/// Builds a very long, deterministic note longer than `LONG_NOTE_CHARS`.
pub(crate) fn long_note(candidate_number: usize) -> String {
    let mut note = format!("Long notes for candidate #{candidate_number}.\n");
    let mut part = 1;
    while note.len() <= LONG_NOTE_CHARS {
        note.push_str(&format!("[{part}] {LONG_NOTE_PARAGRAPH}\n"));
        part += 1;
    }
    note
}

/// Lower-case ASCII for e-mail addresses: common diacritics folded, other characters dropped.
pub(crate) fn ascii_slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for character in text.chars() {
        let folded = match character {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'Ä' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'É' => "e",
            'í' | 'ì' | 'î' | 'ï' | 'Í' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ó' | 'Ö' => "o",
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ü' => "u",
            'ñ' | 'Ñ' => "n",
            'ç' | 'Ç' => "c",
            'ł' | 'Ł' => "l",
            'ř' => "r",
            'ß' => "ss",
            'þ' | 'Þ' => "th",
            ' ' | '-' | '\'' => "",
            other if other.is_ascii_alphanumeric() => {
                slug.push(other.to_ascii_lowercase());
                continue;
            }
            _ => "",
        };
        slug.push_str(folded);
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_diacritics_and_drop_other_scripts() {
        assert_eq!(ascii_slug("Zoë"), "zoe");
        assert_eq!(ascii_slug("Fernández-López"), "fernandezlopez");
        assert_eq!(ascii_slug("O'Brien"), "obrien");
        assert_eq!(ascii_slug("王小明"), "");
    }

    #[test]
    fn long_notes_exceed_every_spreadsheet_cell_limit() {
        let note = long_note(3);
        assert!(note.chars().count() > 50_000);
        assert!(note.starts_with("Long notes for candidate #3."));
    }
}
