//! A gRPC service's descriptors asked of the service itself, over gRPC
//! server reflection (`grpc.reflection.v1`), for `grpc_reflection = true`
//! in `[replay.compare]`: the services it lists, then the files that
//! declare them (with their dependencies), made into one descriptor set.

use std::collections::HashSet;

use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
use tracetape_compare::GrpcDescriptors;

/// The reflection service's own name, left out of what is asked.
const REFLECTION: &str = "grpc.reflection.";

/// The descriptors of every service the gRPC service at `base` lists.
pub(crate) async fn descriptors(base: &str) -> Result<GrpcDescriptors, String> {
    let channel = tonic::transport::Endpoint::from_shared(base.to_owned())
        .map_err(|error| format!("{base} is no gRPC endpoint: {error}"))?
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {base}: {error}"))?;
    let mut client = ServerReflectionClient::new(channel);
    let listed = ask(
        &mut client,
        vec![MessageRequest::ListServices(String::new())],
    )
    .await?;
    let services: Vec<String> = listed
        .into_iter()
        .filter_map(|response| match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => Some(list.service),
            _ => None,
        })
        .flatten()
        .map(|service| service.name)
        .filter(|name| !name.starts_with(REFLECTION))
        .collect();
    if services.is_empty() {
        return Err("the service lists no gRPC service over reflection".to_owned());
    }
    let asked = services
        .iter()
        .map(|service| MessageRequest::FileContainingSymbol(service.clone()))
        .collect();
    let mut seen = HashSet::new();
    let mut set = Vec::new();
    for response in ask(&mut client, asked).await? {
        match response.message_response {
            // A file comes before the files it imports: add those first.
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                for file in files.file_descriptor_proto.into_iter().rev() {
                    if seen.insert(file.clone()) {
                        set_entry(&mut set, &file);
                    }
                }
            }
            Some(MessageResponse::ErrorResponse(error)) => {
                return Err(format!(
                    "reflection answered {}: {}",
                    error.error_code, error.error_message
                ));
            }
            _ => {}
        }
    }
    GrpcDescriptors::from_bytes(&set).map_err(|error| error.to_string())
}

/// Sends `requests` on one reflection stream and reads their answers.
async fn ask(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    requests: Vec<MessageRequest>,
) -> Result<Vec<ServerReflectionResponse>, String> {
    let requests = requests.into_iter().map(|request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    });
    let mut responses = client
        .server_reflection_info(futures_util::stream::iter(requests))
        .await
        .map_err(|status| format!("the service offers no gRPC server reflection: {status}"))?
        .into_inner();
    let mut all = Vec::new();
    while let Some(response) = responses
        .message()
        .await
        .map_err(|status| format!("reflection failed: {status}"))?
    {
        all.push(response);
    }
    Ok(all)
}

/// Appends `file` (an encoded `FileDescriptorProto`) to `set` as an
/// entry of an encoded `FileDescriptorSet` (field 1, length-delimited).
fn set_entry(set: &mut Vec<u8>, file: &[u8]) {
    set.push(0x0a);
    let mut length = file.len();
    while length >= 0x80 {
        set.push((length as u8 & 0x7f) | 0x80);
        length >>= 7;
    }
    set.push(length as u8);
    set.extend_from_slice(file);
}
