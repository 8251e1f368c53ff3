//! Drawing a depth-first walk as a tree: roots flush left, children
//! hanging off their parent with `├─` or `└─`, and the lines printed under
//! a node (events, headers, bodies) carrying the rails of the branches
//! still open.

/// The rails of the walk so far.
#[derive(Debug, Default)]
pub(crate) struct Rails {
    /// For each depth on the path to the current node: whether the node at
    /// that depth is its parent's last child.
    last: Vec<bool>,
}

/// What goes before a node's own line and before the lines under it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Prefixes {
    /// Before the node's line: the open rails, then its connector.
    pub(crate) node: String,
    /// Before each line under the node, down to its children.
    pub(crate) below: String,
}

impl Rails {
    /// The prefixes of the next node of the walk, at `depth`; `is_last`
    /// when it is its parent's last child (or the last root).
    pub(crate) fn next(&mut self, depth: usize, is_last: bool, has_children: bool) -> Prefixes {
        self.last.truncate(depth);
        self.last.push(is_last);
        // Roots are not connected to each other; deeper nodes hang off
        // their parent.
        let ancestors: String = self.last[1.min(depth)..depth]
            .iter()
            .map(|&last| rail(last))
            .collect();
        let connector = match depth {
            0 => "",
            _ if is_last => "└─ ",
            _ => "├─ ",
        };
        Prefixes {
            node: format!("{ancestors}{connector}"),
            below: format!(
                "{ancestors}{}{}",
                if depth == 0 { "" } else { rail(is_last) },
                rail(!has_children),
            ),
        }
    }
}

/// The rail beside the lines under a node: none after the last child.
fn rail(is_last: bool) -> &'static str {
    if is_last { "   " } else { "│  " }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_hang_off_their_parent() {
        let mut rails = Rails::default();
        let walk = [
            (0, true, true),
            (1, false, true),
            (2, true, false),
            (1, true, false),
        ];
        let drawn: Vec<(String, String)> = walk
            .iter()
            .map(|&(depth, last, children)| {
                let p = rails.next(depth, last, children);
                (p.node, p.below)
            })
            .collect();
        let expected = [
            ("", "│  "),
            ("├─ ", "│  │  "),
            ("│  └─ ", "│        "),
            ("└─ ", "      "),
        ];
        assert_eq!(
            drawn,
            expected.map(|(node, below)| (node.to_owned(), below.to_owned()))
        );
    }
}
