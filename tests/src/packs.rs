//! A small clause library and templates for document pack tests and benchmarks: a sale
//! agreement with a price table and signature blocks, 10+ pages of terms, a receipt; the
//! values in Mongolian Cyrillic.

use serde_json::{json, Value};

use crate::{Tenant, TestStack};

/// Creates and publishes a clause; its id.
pub async fn clause(
    stack: &TestStack,
    who: &Tenant,
    name: &str,
    body: &str,
    schema: Value,
    gates: Value,
) -> String {
    let mut input = json!({"name": name, "body_markdown": body, "variables_json": schema});
    if let Some(gates) = gates.as_object() {
        for (key, value) in gates {
            input[key] = value.clone();
        }
    }
    let (status, created) = stack.call(who, "POST", "/v1/clauses", Some(input)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, published) = stack
        .call(who, "POST", &format!("/v1/clauses/{id}/publish"), None)
        .await;
    assert_eq!(status, 200, "{published}");
    id
}

/// Creates and publishes a template of `clauses` for `roles`; its id.
pub async fn template(
    stack: &TestStack,
    who: &Tenant,
    name: &str,
    clauses: &[&str],
    roles: &[&str],
    layout: Value,
) -> String {
    let (status, created) = stack
        .call(
            who,
            "POST",
            "/v1/doc-templates",
            Some(json!({
                "name": name,
                "clauses_ordered": clauses.iter().map(|c| json!({"clause_id": c})).collect::<Vec<_>>(),
                "signer_roles": roles.iter().map(|r| json!({"role": r})).collect::<Vec<_>>(),
                "layout_json": layout,
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, published) = stack
        .call(
            who,
            "POST",
            &format!("/v1/doc-templates/{id}/publish"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{published}");
    id
}

/// `paragraphs` numbered paragraphs of contract terms (about 12 per A4 page).
pub fn long_terms(paragraphs: usize) -> String {
    let mut body = String::from("## Ерөнхий нөхцөл\n\n");
    for i in 1..=paragraphs {
        body.push_str(&format!(
            "{i}. Талууд энэхүү гэрээний {i} дүгээр заалтыг сайн дураараа хүлээн зөвшөөрч, \
             гэрээний хугацаанд түүнийг чанд мөрдөнө. Аль нэг тал үүргээ зөрчсөн тохиолдолд \
             нөгөө талдаа учирсан хохирлыг Монгол Улсын хууль тогтоомжийн дагуу бүрэн \
             барагдуулах үүрэгтэй бөгөөд маргааныг эхлээд харилцан тохиролцох замаар шийднэ.\n\n"
        ));
        if i % 25 == 0 {
            body.push_str(&format!("### Хэсэг {}\n\n", i / 25 + 1));
        }
    }
    body
}

/// The clause ids and template ids of the sale library.
#[derive(Debug, Clone)]
pub struct SaleLibrary {
    /// Parties (contract number, seller, buyer).
    pub parties: String,
    /// The price table.
    pub price: String,
    /// 10+ pages of terms.
    pub terms: String,
    /// Signature blocks for seller and buyer.
    pub signatures: String,
    /// Sale agreement: parties, price table, signature blocks.
    pub sale: String,
    /// Terms: parties, long terms (signatures appended at the end), clauses on new pages.
    pub general_terms: String,
    /// Receipt: parties, signed by the buyer only.
    pub receipt: String,
}

/// The JSON Schema of the parties clause.
pub fn parties_schema() -> Value {
    json!({
        "type": "object",
        "required": ["contract_no", "seller", "buyer"],
        "properties": {
            "contract_no": {"type": "string", "minLength": 3},
            "seller": {"type": "object", "required": ["name", "register"],
                       "properties": {"name": {"type": "string", "minLength": 2},
                                      "register": {"type": "string", "pattern": "^[А-ЯӨҮЁ]{2}[0-9]{8}$"}}},
            "buyer": {"type": "object", "required": ["name"],
                      "properties": {"name": {"type": "string", "minLength": 2}}}
        }
    })
}

/// The JSON Schema of the price clause.
pub fn price_schema() -> Value {
    json!({
        "type": "object",
        "required": ["item", "quantity", "price"],
        "properties": {
            "item": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "price": {"type": "number", "exclusiveMinimum": 0}
        }
    })
}

/// Creates and publishes the sale library in `who`'s organization; `terms_paragraphs` sets
/// the length of the terms.
pub async fn sale_library(stack: &TestStack, who: &Tenant, terms_paragraphs: usize) -> SaleLibrary {
    let parties = clause(
        stack,
        who,
        "Parties",
        "# Гэрээ № {{contract_no}}\n\nХудалдагч **{{seller.name}}** (регистр {{seller.register}}), \
         цаашид *Худалдагч*, болон худалдан авагч **{{buyer.name}}**, цаашид *Худалдан авагч*, \
         дараах нөхцлөөр тохиролцов.",
        parties_schema(),
        json!({}),
    )
    .await;
    let price = clause(
        stack,
        who,
        "Price table",
        "## Үнэ\n\n| Бараа | Тоо | Нэгжийн үнэ (₮) |\n|---|---|---|\n| {{item}} | {{quantity}} | {{price}} |\n\n\
         - Төлбөрийг 30 хоногийн дотор шилжүүлнэ.\n- Хүргэлтийг худалдагч хариуцна.\n",
        price_schema(),
        json!({}),
    )
    .await;
    let terms = clause(
        stack,
        who,
        "General terms",
        &long_terms(terms_paragraphs),
        json!({}),
        json!({}),
    )
    .await;
    let signatures = clause(
        stack,
        who,
        "Signatures",
        "## Гарын үсэг\n\n{{signature:seller}}\n\n{{signature:buyer}}\n",
        json!({}),
        json!({}),
    )
    .await;
    let logo = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        crate::pki::drawn_signature_png(1.0),
    );
    let sale = template(
        stack,
        who,
        "Sale agreement",
        &[&parties, &price, &signatures],
        &["seller", "buyer"],
        json!({"title": "Sale agreement / Худалдах гэрээ", "footer": "Говь Трейд ХХК · Улаанбаатар",
               "lang": "mn", "logo_png_base64": logo}),
    )
    .await;
    let general_terms = template(
        stack,
        who,
        "General terms",
        &[&parties, &terms],
        &["seller", "buyer"],
        json!({"title": "General terms / Ерөнхий нөхцөл", "lang": "mn", "page_break_between_clauses": true}),
    )
    .await;
    let receipt = template(
        stack,
        who,
        "Receipt",
        &[&parties],
        &["buyer"],
        json!({"title": "Receipt / Хүлээн авсан баримт", "lang": "mn"}),
    )
    .await;
    SaleLibrary {
        parties,
        price,
        terms,
        signatures,
        sale,
        general_terms,
        receipt,
    }
}

/// Values for the sale library, in Mongolian.
pub fn sale_variables() -> Value {
    json!({
        "contract_no": "2026/118-Х",
        "seller": {"name": "Говь Трейд ХХК", "register": "УБ12345678"},
        "buyer": {"name": "Батбаяр Өлзий-Үүрийн"},
        "item": "Ширээ, царс модон",
        "quantity": 2,
        "price": 1250000
    })
}

/// A signer map for the sale library with addresses unique to this run.
pub fn sale_signers(suffix: &str) -> Value {
    json!({
        "seller": {"name": "Оюунчимэг Дорж", "email": format!("seller-{suffix}@example.mn")},
        "buyer": {"name": "Батбаяр Өлзий-Үүрийн", "email": format!("buyer-{suffix}@example.mn")},
    })
}
