//! `#[route(…)]`, re-exported as `vwc_http::route`: a handler's route stated the way this codebase thinks
//! of it, expanded to the `#[utoipa::path(…)]` that documents it.
//!
//! ```ignore
//! /// Get a vehicle's overview
//! #[route(get "/v1/vehicles/{id}/overview", tag = "vehicles", params(VehiclePath),
//!     ok(200, "The overview.", Overview), errors(ResourceRoute))]
//! async fn overview(/* extractors */) -> Result<Json<Overview>, ApiError> { … }
//! ```
//!
//! The arguments, the method and path first and the others in any order:
//! - `get "/path"` (or `post`, `put`, `patch`, `delete`, …): the method and the path, `{name}` per path
//!   parameter;
//! - `tag = "…"`: the OpenAPI tag;
//! - `params(…)`: the path, query and header parameters, as `#[utoipa::path]` takes them (`IntoParams`
//!   structs, or `("name" = Type, Path, description = "…")` tuples);
//! - `body = Type` (a JSON body), or `request_body(…)` as `#[utoipa::path]` takes it (any other content);
//! - `ok(status, "description", Type, …)`, once per success answer (2xx or 3xx): the body type may be left
//!   out (no body), and what follows it (`content_type = …`, `headers(…)`, `example = …`, `content(…)`) is
//!   passed on as written;
//! - `errors(…)`: the response sets the route answers (`ResourceRoute`, `BodyChange`, …, each a
//!   `vwc_http::openapi::ResponseSet`), its own `status => Response` errors (`409 => Conflict`), and an
//!   error answer of its own in `#[utoipa::path]`'s words where no shared response fits
//!   (`(status = 503, description = "…", content(…))`).
//!
//! The route needs the bearer token when one of its response sets says so (`ResponseSet::BEARER`, set by
//! the sets that include `BearerRoute`): the document then lists the bearer `security` requirement for it,
//! decided from the types, not written by hand. The handler keeps its name as the operation id and its doc
//! comment as summary and description, exactly as with `#[utoipa::path]`.
//!
//! What it expands to: the `#[utoipa::path(…)]` of those arguments with `impl_for = __route_<handler>`,
//! the handler unchanged, that marker struct with its `vwc_http::openapi::QueryNames` (the query parameters
//! of `params(…)`, read without writing the documentation), and `__path_<handler>` (what
//! `utoipa_axum::routes!` and `vwc_http::service_routes!` look for) as
//! `vwc_http::openapi::RouteDoc<__route_<handler>, (sets…)>`, which adds the security where the sets ask
//! for it.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitInt, LitStr, Token, Type, parenthesized};

/// Declares a handler's route and documents it; see the crate's documentation.
#[proc_macro_attribute]
pub fn route(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The expansion of `#[route(attr)]` on `item`: a function of token streams, so it can be tested.
fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let route: Route = syn::parse2(attr)?;
    let handler: syn::ItemFn = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            "`#[route]` goes on a handler function (an `async fn`)",
        )
    })?;
    Ok(route.expand(&handler.sig.ident, item))
}

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// What a `#[route(…)]` states.
struct Route {
    method: Ident,
    path: LitStr,
    tag: LitStr,
    params: Option<TokenStream>,
    body: Option<Body>,
    answers: Vec<Answer>,
    errors: Vec<ErrorEntry>,
}

/// The request body: JSON of a type, or `#[utoipa::path]`'s own `request_body(…)` arguments.
enum Body {
    Json(Box<Type>),
    Other(TokenStream),
}

/// `ok(status, "description", Type, rest…)`.
struct Answer {
    status: LitInt,
    description: LitStr,
    body: Option<Type>,
    rest: TokenStream,
}

/// One entry of `errors(…)`.
enum ErrorEntry {
    /// A response set (`ResourceRoute`, `crate::openapi::BodyChange`).
    Set(syn::Path),
    /// `409 => Conflict`: one reusable error response.
    One(LitInt, syn::Path),
    /// `(status = 503, description = "…", content(…))`: an error answer of the route's own, in
    /// `#[utoipa::path]`'s words (passed on as written).
    Own(proc_macro2::Group),
}

/// The status of `lit`, checked to lie in `range` (what `what` may answer).
fn status_in(lit: &LitInt, range: std::ops::RangeInclusive<u16>, what: &str) -> syn::Result<()> {
    let status: u16 = lit.base10_parse()?;
    if range.contains(&status) {
        Ok(())
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "{what} is a status from {} to {}, not {status}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A second request body (`body = …` or `request_body(…)`) is an error at `name`.
fn one_body(name: &Ident, seen: bool) -> syn::Result<()> {
    if seen {
        Err(syn::Error::new(
            name.span(),
            "a route has one request body: `body = Type` or `request_body(…)`",
        ))
    } else {
        Ok(())
    }
}

/// Names an argument may have after the method and the path.
const ARGUMENTS: &str =
    "`tag = \"…\"`, `params(…)`, `body = Type`, `request_body(…)`, `ok(…)` or `errors(…)`";

impl Parse for Route {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "a route starts with its method and path, e.g. `#[route(get \"/v1/vehicles\", …)]`",
            ));
        }
        let method: Ident = input.parse()?;
        if !METHODS.contains(&method.to_string().as_str()) {
            return Err(syn::Error::new(
                method.span(),
                format!(
                    "unknown HTTP method `{method}`: expected one of {} (lower case)",
                    METHODS.join(", ")
                ),
            ));
        }
        let path: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the route's path as a string after the method, e.g. \"/v1/vehicles/{id}\"",
            )
        })?;
        if !path.value().starts_with('/') {
            return Err(syn::Error::new(
                path.span(),
                "a route's path starts with `/`",
            ));
        }
        let mut tag = None;
        let mut params = None;
        let mut body = None;
        let mut answers = Vec::new();
        let mut errors = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let name: Ident = input
                .parse()
                .map_err(|e| syn::Error::new(e.span(), format!("expected {ARGUMENTS}")))?;
            let once = |seen: bool| {
                if seen {
                    Err(syn::Error::new(
                        name.span(),
                        format!("`{name}` is given twice"),
                    ))
                } else {
                    Ok(())
                }
            };
            match name.to_string().as_str() {
                "tag" => {
                    once(tag.is_some())?;
                    input.parse::<Token![=]>()?;
                    tag = Some(input.parse::<LitStr>()?);
                }
                "params" => {
                    once(params.is_some())?;
                    let content;
                    parenthesized!(content in input);
                    params = Some(content.parse::<TokenStream>()?);
                }
                "body" => {
                    one_body(&name, body.is_some())?;
                    input.parse::<Token![=]>()?;
                    body = Some(Body::Json(Box::new(input.parse()?)));
                }
                "request_body" => {
                    one_body(&name, body.is_some())?;
                    let content;
                    parenthesized!(content in input);
                    body = Some(Body::Other(content.parse()?));
                }
                "ok" => {
                    let content;
                    parenthesized!(content in input);
                    answers.push(content.parse()?);
                }
                "errors" => {
                    once(errors.is_some())?;
                    let content;
                    parenthesized!(content in input);
                    let entries = content.parse_terminated(ErrorEntry::parse, Token![,])?;
                    if entries.is_empty() {
                        return Err(syn::Error::new(
                            name.span(),
                            "`errors(…)` names at least one response set, e.g. `errors(BearerRoute)`",
                        ));
                    }
                    errors = Some(entries.into_iter().collect());
                }
                _ => {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("unknown route argument `{name}`: expected {ARGUMENTS}"),
                    ));
                }
            }
        }
        let tag = tag.ok_or_else(|| {
            syn::Error::new(method.span(), "a route needs its OpenAPI `tag = \"…\"`")
        })?;
        if answers.is_empty() {
            return Err(syn::Error::new(
                method.span(),
                "a route needs its success answer, e.g. `ok(200, \"The vehicle.\", Vehicle)`",
            ));
        }
        let errors = errors.ok_or_else(|| {
            syn::Error::new(
                method.span(),
                "a route needs its error responses, e.g. `errors(ResourceRoute)`",
            )
        })?;
        Ok(Route {
            method,
            path,
            tag,
            params,
            body,
            answers,
            errors,
        })
    }
}

impl Parse for Answer {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let status: LitInt = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "`ok(…)` starts with the status, e.g. `ok(200, …)`",
            )
        })?;
        status_in(&status, 200..=399, "a success answer (`ok`)")?;
        input.parse::<Token![,]>()?;
        let description: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the answer's description as a string after its status",
            )
        })?;
        let mut body = None;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            // A body type, unless what follows is already one of utoipa's `name = …` / `name(…)`.
            let passed_on =
                input.peek(Ident) && (input.peek2(Token![=]) || input.peek2(syn::token::Paren));
            if !passed_on {
                body = Some(input.parse::<Type>()?);
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
            }
        }
        Ok(Answer {
            status,
            description,
            body,
            rest: input.parse()?,
        })
    }
}

impl Parse for ErrorEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            let status: LitInt = input.parse()?;
            status_in(&status, 400..=599, "an error (`status => Response`)")?;
            input.parse::<Token![=>]>()?;
            return Ok(ErrorEntry::One(status, input.parse()?));
        }
        if input.peek(syn::token::Paren) {
            return Ok(ErrorEntry::Own(input.parse()?));
        }
        input.parse().map(ErrorEntry::Set).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a response set (e.g. `ResourceRoute`) or `status => Response` (e.g. `409 => Conflict`)",
            )
        })
    }
}

impl ToTokens for Answer {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Answer {
            status,
            description,
            body,
            rest,
        } = self;
        let body = body.as_ref().map(|ty| quote!(, body = #ty));
        let rest = (!rest.is_empty()).then(|| quote!(, #rest));
        tokens.extend(quote!((status = #status, description = #description #body #rest)));
    }
}

impl ToTokens for ErrorEntry {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(match self {
            ErrorEntry::Set(set) => quote!(#set),
            ErrorEntry::One(status, response) => quote!((status = #status, response = #response)),
            ErrorEntry::Own(answer) => quote!(#answer),
        });
    }
}

impl Route {
    fn expand(&self, handler: &Ident, item: TokenStream) -> TokenStream {
        let (method, path, tag) = (&self.method, &self.path, &self.tag);
        let (answers, errors) = (&self.answers, &self.errors);
        let params = self.params.as_ref().map(|p| quote!(params(#p),));
        let body = self.body.as_ref().map(|body| match body {
            Body::Json(ty) => {
                quote!(request_body(content = #ty, content_type = "application/json"),)
            }
            Body::Other(args) => quote!(request_body(#args),),
        });
        let sets = errors.iter().filter_map(|e| match e {
            ErrorEntry::Set(set) => Some(set),
            ErrorEntry::One(..) | ErrorEntry::Own(_) => None,
        });
        let documented = format_ident!("__route_{}", handler);
        let path_type = format_ident!("__path_{}", handler);
        let query_names = self.params.as_ref().map(query_names).unwrap_or_default();
        quote! {
            #[utoipa::path(
                #method,
                path = #path,
                tag = #tag,
                #params
                #body
                responses(#(#answers,)* #(#errors,)*),
                impl_for = #documented
            )]
            #item

            /// What `#[utoipa::path]` documents of the handler (its route without the security).
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct #documented;

            impl ::vwc_http::openapi::QueryNames for #documented {
                fn query_names() -> ::std::vec::Vec<::std::string::String> {
                    #[allow(unused_mut)]
                    let mut names = ::std::vec::Vec::new();
                    #(#query_names)*
                    names
                }
            }

            /// The handler's documentation, with the security its response sets ask for.
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            pub type #path_type = ::vwc_http::openapi::RouteDoc<#documented, (#(#sets,)*)>;
        }
    }
}

/// Statements adding to `names` the query parameters of a route's `params(…)`, as `#[utoipa::path]` reads
/// them: of an `IntoParams` type, those it puts in the query (with no place given by the route, as
/// `#[utoipa::path]` calls it); of a `("name" = Type, Query, …)` tuple, its name.
fn query_names(params: &TokenStream) -> Vec<TokenStream> {
    let mut items: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for token in params.clone() {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' && !in_generics(items.last()) => {
                items.push(Vec::new())
            }
            _ => items.last_mut().expect("one item at least").push(token),
        }
    }
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .filter_map(|item| match &item[..] {
            [TokenTree::Group(tuple)] if tuple.delimiter() == Delimiter::Parenthesis => {
                let tokens: Vec<TokenTree> = tuple.stream().into_iter().collect();
                let in_query = tokens
                    .iter()
                    .any(|t| matches!(t, TokenTree::Ident(i) if i == "Query"));
                let name = match tokens.first() {
                    Some(TokenTree::Literal(name)) => {
                        let name: LitStr = syn::parse2(name.to_token_stream()).ok()?;
                        name.value()
                    }
                    Some(TokenTree::Ident(name)) => name.to_string(),
                    _ => return None,
                };
                in_query.then(|| quote!(names.push(::std::string::String::from(#name));))
            }
            _ => {
                let ty: TokenStream = item.into_iter().collect();
                Some(quote! {
                    names.extend(
                        <#ty as ::utoipa::IntoParams>::into_params(|| None)
                            .into_iter()
                            .filter(|p| p.parameter_in == ::utoipa::openapi::path::ParameterIn::Query)
                            .map(|p| p.name),
                    );
                })
            }
        })
        .collect()
}

/// Whether `item` (tokens so far) is inside a type's generic arguments, where a comma does not end it.
fn in_generics(item: Option<&Vec<TokenTree>>) -> bool {
    let depth = item.map_or(0, |item| {
        item.iter().fold(0i32, |depth, t| match t {
            TokenTree::Punct(p) if p.as_char() == '<' => depth + 1,
            TokenTree::Punct(p) if p.as_char() == '>' => depth - 1,
            _ => depth,
        })
    });
    depth > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler() -> TokenStream {
        quote! {
            /// Get a vehicle
            async fn get_vehicle(caller: VehicleOf<ReadVehicles>) -> Json<VehicleView> {
                Json(caller.vehicle)
            }
        }
    }

    fn expanded(attr: TokenStream) -> String {
        expand(attr, handler()).unwrap().to_string()
    }

    fn error(attr: TokenStream) -> String {
        match expand(attr, handler()) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_route_expands_to_its_utoipa_path_and_its_documentation_type() {
        let got = expanded(quote! {
            get "/v1/vehicles/{id}", tag = "vehicles", params(VehiclePath),
            ok(200, "The vehicle.", VehicleView), errors(ResourceRoute)
        });
        let item = handler();
        let want = quote! {
            #[utoipa::path(
                get,
                path = "/v1/vehicles/{id}",
                tag = "vehicles",
                params(VehiclePath),
                responses((status = 200, description = "The vehicle.", body = VehicleView), ResourceRoute,),
                impl_for = __route_get_vehicle
            )]
            #item

            /// What `#[utoipa::path]` documents of the handler (its route without the security).
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct __route_get_vehicle;

            impl ::vwc_http::openapi::QueryNames for __route_get_vehicle {
                fn query_names() -> ::std::vec::Vec<::std::string::String> {
                    #[allow(unused_mut)]
                    let mut names = ::std::vec::Vec::new();
                    names.extend(
                        <VehiclePath as ::utoipa::IntoParams>::into_params(|| None)
                            .into_iter()
                            .filter(|p| p.parameter_in == ::utoipa::openapi::path::ParameterIn::Query)
                            .map(|p| p.name),
                    );
                    names
                }
            }

            /// The handler's documentation, with the security its response sets ask for.
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            pub type __path_get_vehicle = ::vwc_http::openapi::RouteDoc<__route_get_vehicle, (ResourceRoute,)>;
        };
        assert_eq!(got, want.to_string());
    }

    /// The query parameters are read from each `params(…)` item: a type (its generic arguments kept whole)
    /// is asked which of its parameters are in the query; a tuple is one when it says `Query`.
    #[test]
    fn a_routes_query_names_come_from_its_param_types_and_query_tuples() {
        let names = |params: TokenStream| -> Vec<String> {
            query_names(&params).iter().map(|t| t.to_string()).collect()
        };
        let asked = |ty: TokenStream| {
            quote!(names.extend(
                <#ty as ::utoipa::IntoParams>::into_params(|| None)
                    .into_iter()
                    .filter(|p| p.parameter_in == ::utoipa::openapi::path::ParameterIn::Query)
                    .map(|p| p.name),
            );)
            .to_string()
        };
        assert_eq!(
            names(quote!(VehiclePath, crate::query::Paged<A, B>, RangeQuery,)),
            [
                asked(quote!(VehiclePath)),
                asked(quote!(crate::query::Paged<A, B>)),
                asked(quote!(RangeQuery)),
            ]
        );
        assert_eq!(
            names(quote!(
                ("vin" = String, Path, description = "The VIN."),
                ("q" = String, Query, description = "Words."),
                (limit = u32, Query)
            )),
            [
                quote!(names.push(::std::string::String::from("q"));).to_string(),
                quote!(names.push(::std::string::String::from("limit"));).to_string(),
            ]
        );
        assert!(names(quote!()).is_empty());
    }

    #[test]
    fn a_json_body_single_errors_and_extra_answer_arguments_are_written_as_utoipa_takes_them() {
        let got = expanded(quote! {
            post "/v1/vehicles", tag = "vehicles", body = NewVehicle,
            ok(201, "Registered.", Vehicle, headers(("Location" = String))),
            errors(409 => Conflict, BearerBody),
        });
        let want = quote! {
            request_body(content = NewVehicle, content_type = "application/json"),
            responses(
                (status = 201, description = "Registered.", body = Vehicle, headers(("Location" = String))),
                (status = 409, response = Conflict),
                BearerBody,
            ),
        };
        assert!(got.contains(&want.to_string()), "{got}");
        // Only the sets decide the security; a single response is not one.
        assert!(got.contains(&quote!(RouteDoc<__route_get_vehicle, (BearerBody,)>).to_string()));
    }

    #[test]
    fn an_answer_without_a_body_or_with_utoipa_arguments_only_keeps_them() {
        let got = expanded(quote! {
            post "/v1/notifications/{id}/read", tag = "notifications",
            params(("id" = String, Path, description = "The notification's id.")),
            ok(204, "Marked read."), ok(303, "Elsewhere.", headers(("Location" = String))),
            ok(200, "The history.", content((String = "text/csv"))),
            request_body(content = String, content_type = "text/csv"),
            errors(crate::openapi::StateChange, CheckedContent)
        });
        for part in [
            quote!(params((
                "id" = String,
                Path,
                description = "The notification's id."
            )),),
            quote!((status = 204, description = "Marked read.")),
            quote!((
                status = 303,
                description = "Elsewhere.",
                headers(("Location" = String))
            )),
            quote!((
                status = 200,
                description = "The history.",
                content((String = "text/csv"))
            )),
            quote!(request_body(content = String, content_type = "text/csv"),),
            quote!(RouteDoc<__route_get_vehicle, (crate::openapi::StateChange, CheckedContent,)>),
        ] {
            assert!(got.contains(&part.to_string()), "{part} not in {got}");
        }
    }

    #[test]
    fn a_route_without_sets_has_an_empty_set_list_and_its_own_errors_are_passed_on() {
        let got = expanded(quote! {
            get "/readyz", tag = "system", ok(200, "Ready.", ReadinessReport),
            errors(429 => TooManyRequests, (status = 503, description = "Not ready.", body = ReadinessReport))
        });
        let want = quote! {
            responses(
                (status = 200, description = "Ready.", body = ReadinessReport),
                (status = 429, response = TooManyRequests),
                (status = 503, description = "Not ready.", body = ReadinessReport),
            ),
        };
        assert!(got.contains(&want.to_string()), "{got}");
        assert!(got.contains(&quote!(RouteDoc<__route_get_vehicle, ()>).to_string()));
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (quote!(fetch "/v1/vehicles"), "unknown HTTP method `fetch`"),
            (quote!(get v1), "expected the route's path as a string"),
            (quote!(get "v1/vehicles"), "starts with `/`"),
            (
                quote!(get "/v1", ok(200, "x"), errors(BearerRoute)),
                "needs its OpenAPI `tag",
            ),
            (
                quote!(get "/v1", tag = "t", errors(BearerRoute)),
                "needs its success answer",
            ),
            (
                quote!(get "/v1", tag = "t", ok(200, "x")),
                "needs its error responses",
            ),
            (
                quote!(get "/v1", tag = "t", ok(404, "x"), errors(BearerRoute)),
                "a success answer (`ok`) is a status from 200 to 399, not 404",
            ),
            (
                quote!(get "/v1", tag = "t", ok(200, "x"), errors(200 => Fine)),
                "an error (`status => Response`) is a status from 400 to 599, not 200",
            ),
            (
                quote!(get "/v1", tag = "t", ok(200, "x"), errors()),
                "names at least one response set",
            ),
            (
                quote!(get "/v1", tag = "t", tag = "u"),
                "`tag` is given twice",
            ),
            (
                quote!(post "/v1", tag = "t", body = A, request_body(content = B)),
                "a route has one request body",
            ),
            (
                quote!(get "/v1", tag = "t", security(("bearer" = []))),
                "unknown route argument `security`",
            ),
            (
                quote!(get "/v1", tag = "t", ok(200, "x"), errors("BearerRoute")),
                "expected a response set",
            ),
            (
                quote!(get "/v1", tag = "t", ok(x, "x")),
                "`ok(…)` starts with the status",
            ),
            (
                quote!(get "/v1", tag = "t", ok(200, X)),
                "description as a string",
            ),
            (quote!(), "starts with its method and path"),
        ];
        for (attr, want) in cases {
            let got = error(attr.clone());
            assert!(got.contains(want), "{attr}: {got:?} does not say {want:?}");
        }
    }

    #[test]
    fn the_attribute_goes_on_a_function() {
        let err = expand(
            quote!(get "/v1", tag = "t", ok(200, "x"), errors(BearerRoute)),
            quote!(
                struct NotAHandler;
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("goes on a handler function"));
    }
}
