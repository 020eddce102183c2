//! `#[derive(Spec)]`: a connector's spec declared once, as a struct. Each
//! named field becomes a spec field read through its type's `FieldValue`
//! (so `Option<T>` is optional), and a row of `describe`'s field table with
//! the field's doc comment as its description.
//!
//! A struct may also hold `conn_id`, `type` and `description`, which the SDK
//! reads (and checks) for every spec: they get no row of their own.
//!
//! Field attributes, `#[spec(...)]`:
//! - `rename = "name"`: the key in the spec, when it is not the field's name;
//! - `default`: absent, the field is `Default::default()`;
//! - `default = "path"`: absent, the field is `path()`;
//! - `type_name = "words"`: the type as `describe` shows it.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, parse_macro_input};

/// Implement `lava_guest_kit::Spec` for a struct of named fields.
#[proc_macro_derive(Spec, attributes(spec))]
pub fn derive_spec(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// One field of the struct, as the spec reads it.
struct SpecField {
    ident: syn::Ident,
    ty: syn::Type,
    key: String,
    description: String,
    default: Option<Tokens>,
    type_name: Option<LitStr>,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(&input.ident, "`Spec` is derived for a struct of named fields"));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(&input.ident, "`Spec` is derived for a struct of named fields"));
    };
    let fields = named.named.iter().map(spec_field).collect::<syn::Result<Vec<_>>>()?;
    // `conn_id`, `type` and `description` are the SDK's, read (and their
    // problems found) for every spec: a struct may hold them, without rows.
    let rows = fields.iter().filter(|f| !is_common(f)).map(row);
    let reads = fields.iter().map(read);
    let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
    let locals: Vec<_> = fields.iter().map(local).collect();
    let name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::lava_guest_kit::Spec for #name #type_generics #where_clause {
            const FIELDS: &'static [::lava_guest_kit::Field] = &[
                ::lava_guest_kit::spec::COMMON_FIELDS[0],
                ::lava_guest_kit::spec::COMMON_FIELDS[1],
                ::lava_guest_kit::spec::COMMON_FIELDS[2],
                ::lava_guest_kit::spec::COMMON_FIELDS[3],
                #(#rows),*
            ];

            fn read(reader: &mut ::lava_guest_kit::SpecReader<'_>) -> ::core::option::Option<Self> {
                #(#reads)*
                ::core::option::Option::Some(Self { #(#idents: #locals?),* })
            }
        }
    })
}

fn spec_field(field: &syn::Field) -> syn::Result<SpecField> {
    let ident = field.ident.clone().expect("named fields have names");
    let key = ident.to_string().trim_start_matches("r#").to_string();
    let mut spec =
        SpecField { ident, ty: field.ty.clone(), key, description: doc(&field.attrs), default: None, type_name: None };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("spec")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                spec.key = meta.value()?.parse::<LitStr>()?.value();
            } else if meta.path.is_ident("type_name") {
                spec.type_name = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("default") {
                spec.default = Some(if meta.input.peek(syn::Token![=]) {
                    let path: syn::ExprPath = meta.value()?.parse::<LitStr>()?.parse()?;
                    quote!(#path())
                } else {
                    quote!(::core::default::Default::default())
                });
            } else {
                return Err(meta.error("unknown `spec` attribute: use rename, default or type_name"));
            }
            Ok(())
        })?;
    }
    if is_common(&spec) && spec.default.is_some() {
        return Err(syn::Error::new_spanned(
            &field.ident,
            format!("`{}` is the SDK's, read for every spec: it takes no default", spec.key),
        ));
    }
    if spec.key == "enabled" {
        return Err(syn::Error::new_spanned(
            &field.ident,
            "`enabled` is the SDK's: `resolve` runs only on an enabled connection; leave it out of the struct",
        ));
    }
    Ok(spec)
}

/// The doc comment's lines, joined by spaces.
fn doc(attrs: &[syn::Attribute]) -> String {
    let lines = attrs.iter().filter(|a| a.path().is_ident("doc")).filter_map(|a| match &a.meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
            _ => None,
        },
        _ => None,
    });
    lines.filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

fn row(field: &SpecField) -> Tokens {
    let (key, ty, description) = (&field.key, &field.ty, &field.description);
    let type_name = match &field.type_name {
        Some(name) => quote!(#name),
        None => quote!(<#ty as ::lava_guest_kit::FieldValue>::TYPE_NAME),
    };
    let required =
        if field.default.is_some() { quote!(false) } else { quote!(<#ty as ::lava_guest_kit::FieldValue>::REQUIRED) };
    quote! {
        ::lava_guest_kit::Field { name: #key, type_name: #type_name, required: #required, description: #description }
    }
}

/// The local a field is read into: not the field's own name, which could
/// be `reader`.
fn local(field: &SpecField) -> syn::Ident {
    quote::format_ident!("__field_{}", syn::ext::IdentExt::unraw(&field.ident))
}

/// Whether the field is one the SDK reads for every spec.
fn is_common(field: &SpecField) -> bool {
    ["conn_id", "type", "description"].contains(&field.key.as_str())
}

fn read(field: &SpecField) -> Tokens {
    let (ident, key, ty) = (local(field), &field.key, &field.ty);
    if is_common(field) {
        // The SDK has checked them as text: the struct must take them so,
        // or a spec would fail to read with no problem to say why.
        let expected = if key == "description" {
            quote!(::core::option::Option<::std::string::String>)
        } else {
            quote!(::std::string::String)
        };
        return quote! {
            let #ident = {
                let _: ::core::marker::PhantomData<#expected> = ::core::marker::PhantomData::<#ty>;
                reader.quiet::<#ty>(#key)
            };
        };
    }
    match &field.default {
        Some(default) => quote! {
            let #ident = reader.field_or_else::<#ty>(#key, || ::core::option::Option::Some(#default));
        },
        None => quote! { let #ident = reader.field::<#ty>(#key); },
    }
}
