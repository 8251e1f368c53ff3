//! Field names for gRPC messages: with the service's descriptor set (a
//! `FileDescriptorSet`, as `protoc --descriptor_set_out` or tonic-build's
//! `file_descriptor_set_path` write it), a response's messages are
//! compared as the JSON of their fields by name (`$[0].total_cents`),
//! typed as declared; without it, by number (`tracetape::grpc::wire`).

use std::path::Path;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;
use tracetape::grpc::wire::{GrpcMessage, hex};

/// A gRPC service's descriptors: its methods' message types.
///
/// ```
/// use tracetape_compare::GrpcDescriptors;
///
/// // An empty set reads, and knows no method.
/// let descriptors = GrpcDescriptors::from_bytes(&[]).unwrap();
/// assert!(!descriptors.knows("/shop.Shop/Place"));
/// assert!(GrpcDescriptors::from_bytes(b"not a descriptor set").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcDescriptors {
    pool: DescriptorPool,
}

/// A descriptor set that could not be read.
#[derive(Debug)]
pub struct DescriptorsError(String);

impl std::fmt::Display for DescriptorsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DescriptorsError {}

impl GrpcDescriptors {
    /// The descriptors of an encoded `FileDescriptorSet`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DescriptorsError> {
        DescriptorPool::decode(bytes)
            .map(|pool| Self { pool })
            .map_err(|error| DescriptorsError(format!("not a FileDescriptorSet: {error}")))
    }

    /// The descriptors in the file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, DescriptorsError> {
        let bytes = std::fs::read(path).map_err(|error| {
            DescriptorsError(format!("cannot read {}: {error}", path.display()))
        })?;
        Self::from_bytes(&bytes)
            .map_err(|error| DescriptorsError(format!("{}: {error}", path.display())))
    }

    /// Whether the descriptors declare the method at `path`
    /// (`/package.Service/Method`).
    pub fn knows(&self, path: &str) -> bool {
        self.output(path).is_some()
    }

    /// The response message type of the method at `path`.
    fn output(&self, path: &str) -> Option<MessageDescriptor> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let service = self.pool.get_service_by_name(service)?;
        let method = service
            .methods()
            .find(|candidate| candidate.name() == method)?;
        Some(method.output())
    }

    /// A response's messages as JSON, each decoded as the method at
    /// `path` answers (fields by name, every field present, 64-bit
    /// integers as numbers); `None` when the method is not declared. A
    /// message that does not decode is its bytes in hex.
    pub(crate) fn response_json(&self, path: &str, messages: &[GrpcMessage]) -> Option<Value> {
        let output = self.output(path)?;
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .stringify_64_bit_integers(false)
            .skip_default_fields(false);
        let values = messages.iter().map(|message| {
            DynamicMessage::decode(output.clone(), message.bytes.as_slice())
                .ok()
                // Decoded only when its bytes are the message's own.
                .filter(|_| message.fields.is_some() && !message.cut)
                .and_then(|decoded| {
                    decoded
                        .serialize_with_options(serde_json::value::Serializer, &options)
                        .ok()
                })
                .unwrap_or_else(|| Value::String(hex(&message.bytes)))
        });
        Some(Value::Array(values.collect()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prost::Message as _;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        MethodDescriptorProto, ServiceDescriptorProto,
    };

    use super::*;
    use crate::testing::{grpc_receipt as receipt, header};
    use crate::{CompareOptions, compare, compare_answer};
    use tracetape::record::{BodyRecord, RequestRecord};

    /// `shop.Shop/Place(Order) returns (Receipt)`, with `Receipt`'s
    /// `reservation_id = 1` and `total_cents = 2` (int64).
    fn shop() -> Vec<u8> {
        let field = |name: &str, number, kind: Type| FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            r#type: Some(kind as i32),
            label: Some(Label::Optional as i32),
            ..Default::default()
        };
        let message = |name: &str, fields| DescriptorProto {
            name: Some(name.into()),
            field: fields,
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("shop.proto".into()),
            package: Some("shop".into()),
            syntax: Some("proto3".into()),
            message_type: vec![
                message("Order", vec![field("item", 1, Type::String)]),
                message(
                    "Receipt",
                    vec![
                        field("reservation_id", 1, Type::String),
                        field("total_cents", 2, Type::Int64),
                    ],
                ),
            ],
            service: vec![ServiceDescriptorProto {
                name: Some("Shop".into()),
                method: vec![MethodDescriptorProto {
                    name: Some("Place".into()),
                    input_type: Some(".shop.Order".into()),
                    output_type: Some(".shop.Receipt".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        FileDescriptorSet { file: vec![file] }.encode_to_vec()
    }

    #[test]
    fn with_the_descriptors_a_response_s_fields_are_named() {
        let descriptors = GrpcDescriptors::from_bytes(&shop()).unwrap();
        assert!(descriptors.knows("/shop.Shop/Place"));
        assert!(!descriptors.knows("/shop.Shop/Track"));
        let options = CompareOptions {
            grpc_descriptors: Some(descriptors),
            ..CompareOptions::default()
        };
        let request = RequestRecord {
            method: "POST".into(),
            url: "/shop.Shop/Place".into(),
            headers: vec![header("content-type", "application/grpc")],
            body: BodyRecord::default(),
        };
        let (recorded, changed) = (receipt("r-tea-2", 100), receipt("r-tea-2", 101));
        let named = compare_answer(&request, &recorded, &changed, &options);
        assert_eq!(named.deviations.len(), 1, "{named:?}");
        assert_eq!(
            named.deviations[0].path.as_deref(),
            Some("$[0].total_cents")
        );
        assert_eq!(
            named.deviations[0].to_string(),
            "body $[0].total_cents: expected 100, actual 101"
        );
        // Without the request, or the method undeclared: by number.
        let numbered = compare(&recorded, &changed, &options);
        assert_eq!(numbered.deviations[0].path.as_deref(), Some("$[0].2"));
        let other = RequestRecord {
            url: "/shop.Shop/Track".into(),
            ..request
        };
        let numbered = compare_answer(&other, &recorded, &changed, &options);
        assert_eq!(numbered.deviations[0].path.as_deref(), Some("$[0].2"));
    }

    #[test]
    fn a_descriptor_file_that_is_not_one_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("tracetape-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.bin");
        std::fs::write(&file, b"\\xff\\xff").unwrap();
        let error = GrpcDescriptors::from_file(&file).unwrap_err().to_string();
        assert!(
            error.contains("bad.bin") && error.contains("not a FileDescriptorSet"),
            "{error}"
        );
        let missing = GrpcDescriptors::from_file(&dir.join("none.bin")).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
