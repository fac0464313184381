//! Patterns in words, so `speedbump check` can show what each line will
//! match before a long benchmark finds out the hard way.

use super::Pattern;
use super::glob::Shape;

pub(crate) fn describe(pattern: &Pattern) -> String {
    let mut text = format!("{} in {}", functions(pattern), modules(pattern));
    // `vllm.worker:*` (METHODOLOGY.md's own example) reads like "the worker
    // layer" but matches only the package's __init__; say so where it matters.
    if let (false, Shape::Literal(name), Shape::Anything) = (
        pattern.by_path,
        pattern.module.shape(),
        pattern.qualname.shape(),
    ) {
        if name != "__main__" {
            text.push_str(&format!(" only (its submodules need '{name}.*')"));
        }
    }
    text
}

fn modules(pattern: &Pattern) -> String {
    let text = &pattern.module_text;
    if pattern.by_path {
        return match pattern.module.shape() {
            Shape::Literal(path) => format!("the file '{path}'"),
            Shape::Prefix(s) => format!("files whose path starts with '{s}'"),
            Shape::Suffix(s) => format!("files whose path ends with '{s}'"),
            Shape::Contains(s) => format!("files whose path contains '{s}'"),
            _ => format!("files whose path matches '{text}'"),
        };
    }
    match pattern.module.shape() {
        Shape::Anything => "any module".to_owned(),
        Shape::Literal(name) if name == "__main__" => "the main script (__main__)".to_owned(),
        Shape::Literal(name) => format!("module '{name}'"),
        Shape::Tree(package) => format!("package '{package}' and its submodules"),
        _ if pattern.module.package_part() == Some(&[super::glob::Token::Star]) => {
            "any module".to_owned()
        }
        _ if pattern.module.package_part().is_some() => {
            format!("modules matching '{text}' (and the packages themselves)")
        }
        Shape::Prefix(s) => format!("modules whose name starts with '{s}'"),
        Shape::Suffix(s) => format!("modules whose name ends with '{s}'"),
        Shape::Contains(s) => format!("modules whose name contains '{s}'"),
        Shape::Other => format!("modules matching '{text}'"),
    }
}

fn functions(pattern: &Pattern) -> String {
    let text = &pattern.qualname_text;
    match pattern.qualname.shape() {
        Shape::Anything => "every function".to_owned(),
        Shape::Literal(name) if !name.contains('.') && starts_uppercase(&name) => {
            format!("function or class body '{name}' (a class's methods need '{name}.*')")
        }
        Shape::Literal(name) => format!("function '{name}'"),
        Shape::Tree(outer) => format!("functions inside '{outer}' (methods, nested functions)"),
        Shape::Prefix(s) => format!("functions whose qualified name starts with '{s}'"),
        Shape::Suffix(s) => format!("functions whose qualified name ends with '{s}'"),
        Shape::Contains(s) => format!("functions whose qualified name contains '{s}'"),
        Shape::Other => format!("functions whose qualified name matches '{text}'"),
    }
}

fn starts_uppercase(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use crate::pattern::parse_pattern;

    fn describe(text: &str) -> String {
        parse_pattern("test", text).unwrap().describe()
    }

    #[test]
    fn describes_common_patterns() {
        let cases = [
            ("*:*", "every function in any module"),
            (
                "numpy.*:*",
                "every function in package 'numpy' and its submodules",
            ),
            (
                "*:*matmul*",
                "functions whose qualified name contains 'matmul' in any module",
            ),
            (
                "__main__:main",
                "function 'main' in the main script (__main__)",
            ),
            (
                "vllm.worker.model_runner:ModelRunner.execute_model",
                "function 'ModelRunner.execute_model' in module 'vllm.worker.model_runner'",
            ),
            (
                "m:Runner",
                "function or class body 'Runner' (a class's methods need 'Runner.*') in module 'm'",
            ),
            (
                "m:Runner.*",
                "functions inside 'Runner' (methods, nested functions) in module 'm'",
            ),
            (
                "transformers.modeling_*:*",
                "every function in modules whose name starts with 'transformers.modeling_'",
            ),
            (
                "*.utils:get*",
                "functions whose qualified name starts with 'get' in modules whose name ends with '.utils'",
            ),
            ("*.*:*", "every function in any module"),
            (
                "vllm.*.layers.*:f?",
                "functions whose qualified name matches 'f?' in modules matching 'vllm.*.layers.*' (and the packages themselves)",
            ),
            ("[a-c]*:*", "every function in modules matching '[a-c]*'"),
            (
                "*/vllm/worker/*:*",
                "every function in files whose path contains '/vllm/worker/'",
            ),
            ("/srv/app.py:*", "every function in the file '/srv/app.py'"),
            (
                "!numpy.testing.*:*",
                "every function in package 'numpy.testing' and its submodules",
            ),
            (
                "vllm.worker:*",
                "every function in module 'vllm.worker' only (its submodules need 'vllm.worker.*')",
            ),
            ("__main__:*", "every function in the main script (__main__)"),
        ];
        for (text, expected) in cases {
            assert_eq!(describe(text), expected, "{text}");
        }
    }
}
